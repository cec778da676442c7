"""Independent test oracles: pure NumPy, no stencilc import.

Two kinds of oracle live here. The seed's own Kuramoto right-hand sides, copied from the course notes
(`seed_numpy_dudt`, `seed_naive_dudt`), and a deliberately slow ghost-cell implementation of the
documented discretisation (second-order staggered differences on a cell-centred grid) and boundary
conditions (ghost cells, layer k = 1, 2, ... outward, h the spacing): `pad` builds the padded array
one ghost index at a time by applying the ghost rules literally, and the operators below difference
the padded array.

The ghost rules, each giving u[-k] (the high side alike: u[n-1+k] from u[n-k]):
  periodic      u[-k] = u[n-k]
  neumann g     du/dn = g on the face:  u[-k] = u[k-1] + (2k-1) h g
  dirichlet g   u = g on the face:      u[-k] = 2g - u[k-1]
  robin a b g   a u + b du/dn = g on the face, with the face value (u[-k] + u[k-1])/2 and the
                normal derivative (u[-k] - u[k-1]) / ((2k-1) h), solved for u[-k]
A rule that lands outside the grid again (grids smaller than the stencil) is applied again; in more
than one dimension the ghosts are filled axis by axis, axis 0 first.

Boundary conditions are given per axis as `(low, high)` pairs of simple tuples:
`("neumann",)` (zero flux), `("neumann", g)`, `("periodic",)`, `("dirichlet", g)` or
`("robin", a, b, g)`. Spacing `h` is a number or one per axis.

A value g (and Robin's a, b) may also be a function, called with keyword arguments `t` and the
coordinates `x`, `y`, `z` of the grid's axes (`lambda t, x, **_: ...`): it is evaluated on the
boundary face, the normal coordinate being the face's position (the low face at `origin`, the high
one at `origin + n h`), the other coordinates those of the ghost cell being filled. Since ghosts
are filled axis by axis, axis 0 first, a cell being filled along axis a lies, along an axis filled
before a, possibly among that axis's ghosts (its exact position beyond the grid), and along an axis
filled after a inside the grid. Cell i of axis a is centred at origin[a] + (i + 1/2) h[a].
The ghost-cell oracles compute in float64 whatever the input dtype (complex128 for complex input:
the ghost rules are linear, so they apply to complex values as they are).
"""

import numpy as np
import numpy.typing as npt

NEUMANN = ("neumann",)
PERIODIC = ("periodic",)


def dirichlet(g=0.0):
    return ("dirichlet", float(g))


def neumann(g=0.0):
    return ("neumann", float(g))


def robin(a, b, g):
    return ("robin", float(a), float(b), float(g))


# --------------------------------------------------------------------------------------------------
# The seed's right-hand sides (000_2e16c101cac6108b.txt), `self.X` turned into arguments.
# They keep the dtype of their inputs: K is cast to the dtype of the array.


def seed_numpy_dudt(u: npt.NDArray, omega: npt.NDArray, K) -> npt.NDArray:
    K = u.dtype.type(K)
    dudt = omega.copy()

    # Horizontal gradient in the direction of +infinity
    dudx_right = u[:, 1:] - u[:, :-1]

    # Vertical gradient in the direction of -infinity
    dudy_down = u[1:, :] - u[:-1, :]

    # Apply contribution from horizontal neighbors
    dudt[:, :-1] += K * np.sin(dudx_right)
    dudt[:, 1:] += K * np.sin(-dudx_right)

    # Apply contribution from vertical neighbors
    dudt[:-1, :] += K * np.sin(dudy_down)
    dudt[1:, :] += K * np.sin(-dudy_down)

    return dudt


def seed_naive_dudt(u: npt.NDArray, omega: npt.NDArray, K) -> npt.NDArray:
    ''' Centered-difference gradient with zero Neumann condition '''
    # The seed's grid is N x N; here the two sizes may differ.
    K = u.dtype.type(K)
    N0, N1 = u.shape

    dudt = omega.copy()

    for row in range(N0):
        for col in range(N1):

            # Horizontal neighbors
            if row > 0:
                dudt[row, col] += K * np.sin(u[row-1, col] - u[row, col])
            if row < N0-1:
                dudt[row, col] += K * np.sin(u[row+1, col] - u[row, col])

            # Vertical neighbors
            if col > 0:
                dudt[row, col] += K * np.sin(u[row, col-1] - u[row, col])
            if col < N1-1:
                dudt[row, col] += K * np.sin(u[row, col+1] - u[row, col])

    return dudt


# --------------------------------------------------------------------------------------------------
# Boundary conditions


def _evaluate(value, where):
    """A rule's value: a number as it is, a function called with the face's coordinates and time."""
    return value(**where) if callable(value) else value


def ghost_rule(rule: tuple, k: int, h: float, where=None) -> tuple[float, float]:
    """`(scale, offset)` with ghost = scale * mirror + offset for ghost layer `k` (1, 2, ...) of a
    mirroring rule, `mirror` being the cell the same distance inside the face; `where` holds the
    keyword arguments (t and coordinates) for values that are functions."""
    where = where or {}
    kind = rule[0]
    if kind == "neumann":                            # du/dn = g: u[-k] = u[k-1] + (2k-1) h g
        g = _evaluate(rule[1], where) if len(rule) > 1 else 0.0
        return 1.0, (2 * k - 1) * h * g
    if kind == "dirichlet":                          # u = g on the face: u[-k] = 2g - u[k-1]
        return -1.0, 2.0 * _evaluate(rule[1], where)
    if kind == "robin":
        # a (G + M)/2 + b (G - M)/d = g on the face, d = (2k-1) h the distance from M to G:
        # G (a/2 + b/d) = g - M (a/2 - b/d)
        a, b, g = (_evaluate(v, where) for v in rule[1:])
        d = (2 * k - 1) * h
        pivot = a / 2 + b / d
        if pivot == 0:
            raise ZeroDivisionError(f"{rule!r}: singular for layer {k} with h={h}")
        return -(a / 2 - b / d) / pivot, g / pivot
    raise ValueError(f"unknown boundary condition {rule!r}")


def ghost_source(i: int, n: int, low: tuple, high: tuple, h: float = 1.0,
                 where=None, normal: str | None = None, origin: float = 0.0) -> tuple[int, float, float]:
    """For index `i` of an axis of `n` cells and spacing `h`, return `(j, sign, offset)` with
    0 <= j < n such that u[i] == sign * u[j] + offset, by applying the ghost rules again and again
    until inside. A side given as None is a halo side (its ghosts are padding filled by someone
    else): an index beyond it is returned as it is, outside [0, n). Values that are functions get
    `where` (t and the other coordinates) and, as `normal`, the position of the face they are on
    (the low face at `origin`, the high face at `origin + n h`)."""
    sign, offset = 1.0, 0.0
    where = dict(where or {})
    while not 0 <= i < n:
        if (low if i < 0 else high) is None:
            break
        if i < 0:
            k = -i                                   # i is u[-k]
            rule = low
            if rule[0] == "periodic":
                i = n - k                            # u[-k] = u[n-k]
                continue
            mirror = k - 1                           # ... or a rule on u[k-1]
        else:
            k = i - (n - 1)                          # i is u[n-1+k], the mirror image of u[-k]
            rule = high
            if rule[0] == "periodic":
                i = k - 1                            # u[n-1+k] = u[k-1]
                continue
            mirror = n - k                           # ... or a rule on u[n-k]
        if normal is not None:
            where[normal] = origin if i < 0 else origin + n * h
        scale, shift = ghost_rule(rule, k, h, where)
        offset = offset + sign * shift                       # u[i] = sign * (scale u[mirror] + shift) + offset
        sign *= scale
        i = mirror
    return i, sign, offset


AXES = "xyz"


def pad(u: npt.ArrayLike, bcs, r: int, h=1.0, origin=0.0, t=0.0) -> np.ndarray:
    """`u` with `r` ghost cells on every side, filled axis by axis (axis 0 first) by the ghost rules;
    an axis filled later reads the ghosts of the axes filled before it (that is what fills corners).
    `h` (one number or one per axis) is the spacing the Neumann and Robin rules use; `origin` (one
    number or one per axis) and the time `t` are what values that are functions are called with."""
    P = np.array(u, dtype=np.complex128 if np.iscomplexobj(u) else np.float64)
    if len(bcs) != P.ndim:
        raise ValueError(f"{len(bcs)} boundary conditions for a {P.ndim}-d array")
    h = _spacing(h, P.ndim)
    origin = _spacing(origin, P.ndim)
    for axis, (low, high) in enumerate(bcs):
        # the positions of the cells of P along the other axes, broadcast over a slice of P
        # normal to `axis`: axes before it are padded already (their ghosts at their positions)
        where = {"t": t}
        for b in range(P.ndim):
            if b == axis:
                continue
            first = -r if b < axis else 0
            centres = origin[b] + (np.arange(P.shape[b]) + first + 0.5) * h[b]
            shape = [1] * (P.ndim - 1)
            shape[b if b < axis else b - 1] = P.shape[b]
            where[AXES[b]] = centres.reshape(shape)
        if (low[0] == "periodic") != (high[0] == "periodic"):
            raise ValueError(f"axis {axis}: periodic on one side only")
        n = P.shape[axis]
        shape = list(P.shape)
        shape[axis] = n + 2 * r
        Q = np.empty(shape, dtype=P.dtype)
        for j in range(n + 2 * r):
            src, sign, offset = ghost_source(j - r, n, low, high, h[axis], where, AXES[axis], origin[axis])
            dst_index = [slice(None)] * P.ndim
            src_index = [slice(None)] * P.ndim
            dst_index[axis] = j
            src_index[axis] = src
            Q[tuple(dst_index)] = sign * P[tuple(src_index)] + offset
        P = Q
    return P


def input_bcs(state_bcs, given=None):
    """The bc of an input field: `given` (per-axis pairs) if a dict named it, else Neumann;
    either way an axis that is periodic for the state is periodic for the input field."""
    out = []
    for axis, (low, high) in enumerate(state_bcs):
        if low[0] == "periodic":
            out.append((PERIODIC, PERIODIC))
        elif given is not None:
            out.append(tuple(given[axis]))
        else:
            out.append((NEUMANN, NEUMANN))
    return out


def _spacing(h, ndim: int) -> tuple[float, ...]:
    if np.ndim(h) == 0:
        return (float(h),) * ndim
    h = tuple(float(x) for x in h)
    if len(h) != ndim:
        raise ValueError(f"{len(h)} spacings for ndim={ndim}")
    return h


# --------------------------------------------------------------------------------------------------
# Operators on padded arrays. `P` carries a margin of at least one ghost cell on every axis; each
# operator returns its values on the region one cell smaller on every side (the "valid" region).


def at(P: np.ndarray, axis: int, offset: int) -> np.ndarray:
    """P at integer `offset` (-1, 0 or +1) along `axis`, on the valid region."""
    index = [slice(1, s - 1) for s in P.shape]
    s = P.shape[axis]
    index[axis] = slice(1 + offset, s - 1 + offset)
    return P[tuple(index)]


def laplace_valid(P, h):
    """Compact Laplacian, written as the staggered discretisation builds it: (D u@+1/2 - D u@-1/2) / h."""
    h = _spacing(h, P.ndim)
    total = np.zeros([s - 2 for s in P.shape])
    for a in range(P.ndim):
        flux_hi = (at(P, a, +1) - at(P, a, 0)) / h[a]
        flux_lo = (at(P, a, 0) - at(P, a, -1)) / h[a]
        total = total + (flux_hi - flux_lo) / h[a]
    return total


def div_c_grad_valid(P, C, h):
    """div(c grad u): c averaged to faces, times the one-sided difference, differenced again."""
    h = _spacing(h, P.ndim)
    total = np.zeros([s - 2 for s in P.shape])
    for a in range(P.ndim):
        c_hi = (at(C, a, 0) + at(C, a, +1)) / 2
        c_lo = (at(C, a, -1) + at(C, a, 0)) / 2
        flux_hi = c_hi * (at(P, a, +1) - at(P, a, 0)) / h[a]
        flux_lo = c_lo * (at(P, a, 0) - at(P, a, -1)) / h[a]
        total = total + (flux_hi - flux_lo) / h[a]
    return total


def centred_diff_valid(P, axis, h):
    h = _spacing(h, P.ndim)
    return (at(P, axis, +1) - at(P, axis, -1)) / (2 * h[axis])


def div_sin_grad_valid(P, h):
    """The Kuramoto operator div(sin(grad u)): sin of each one-sided difference, differenced."""
    h = _spacing(h, P.ndim)
    total = np.zeros([s - 2 for s in P.shape])
    for a in range(P.ndim):
        flux_hi = np.sin((at(P, a, +1) - at(P, a, 0)) / h[a])
        flux_lo = np.sin((at(P, a, 0) - at(P, a, -1)) / h[a])
        total = total + (flux_hi - flux_lo) / h[a]
    return total


# --------------------------------------------------------------------------------------------------
# Operators on grid arrays, with their boundary conditions.


def laplace(u, bcs, h=1.0, origin=0.0, t=0.0):
    return laplace_valid(pad(u, bcs, 1, h, origin, t), h)


def div_c_grad(u, c, bcs_u, bcs_c, h=1.0):
    return div_c_grad_valid(pad(u, bcs_u, 1, h), pad(c, bcs_c, 1, h), h)


def centred_diff(u, axis, bcs, h=1.0):
    return centred_diff_valid(pad(u, bcs, 1, h), axis, h)


def d0_d1(u, bcs, h=1.0):
    """D(u, 0) * D(u, 1)."""
    P = pad(u, bcs, 1, h)
    return centred_diff_valid(P, 0, h) * centred_diff_valid(P, 1, h)


def grad_dot_grad(u, bcs, h=1.0):
    """dot(grad(u), grad(u)): the sum of squared centred differences."""
    P = pad(u, bcs, 1, h)
    return sum(centred_diff_valid(P, a, h) ** 2 for a in range(P.ndim))


def bilaplace(u, bcs, h=1.0, origin=0.0, t=0.0):
    """laplace(laplace(u)) with radius 2: the inner Laplacian is evaluated on the ring of ghosts too,
    from ghost values of u (not from ghost values of laplace(u))."""
    inner = laplace_valid(pad(u, bcs, 2, h, origin, t), h)      # laplace(u) on the grid and one ghost deep
    return laplace_valid(inner, h)


def div_sin_grad(u, bcs, h=1.0):
    return div_sin_grad_valid(pad(u, bcs, 1, h), h)
