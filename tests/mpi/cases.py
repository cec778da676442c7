"""The runs that the MPI programs make on several ranks and the tests make on one process.

Each case is a stencil (its right-hand side, boundary conditions, grid), seeded global initial data
and inputs, an integration, and how its grid is split over P ranks. `single(name, backend)` runs it on
one process (the reference); `distributed(name, P)` runs it on the blocks of a decomposition over
P ranks and returns the gathered result on rank 0. Both compile with the C backend unless a
backend is forced.
"""
import numpy as np
import sympy as sp

import stencilc as sc

th, om, u, v, c = sc.fields("theta omega u v c")
K = sp.Symbol("K")
KURAMOTO = om + K * sc.div(sp.sin(sc.grad(th)))


def _kuramoto(bc, method, shape=(37, 23), dims=None, t_end=1.0, dt=0.05):
    rng = np.random.default_rng(11)
    return dict(rhs=KURAMOTO, options=dict(state=th, bc=bc), shape=shape, dims=dims,
                initial=rng.uniform(0, 2 * np.pi, shape), inputs={"omega": rng.normal(size=shape), "K": 1.3},
                run=dict(method=method, t_end=t_end, dt=dt))


def _field(rhs, options, shape, method, dims=None, t_end=0.5, dt=0.02, inputs=None, seed=5):
    rng = np.random.default_rng(seed)
    given = {}
    for name, kind in (inputs or {}).items():
        given[name] = rng.uniform(0.5, 1.5, shape) if kind == "field" else kind
    return dict(rhs=rhs, options=options, shape=shape, dims=dims, initial=rng.standard_normal(shape),
                inputs=given, run=dict(method=method, t_end=t_end, dt=dt))


MIXED_BC = {"u": ((sc.Dirichlet(0.5), sc.Robin(1.0, 2.0, 0.3)), (sc.Neumann(0.25), sc.Dirichlet(-1.0))),
            "c": ((sc.Neumann(), sc.Dirichlet(1.0)), (sc.Neumann(), sc.Neumann()))}

CASES = {
    "kuramoto_euler": lambda P: _kuramoto("neumann", "euler"),
    "kuramoto_rk4": lambda P: _kuramoto("neumann", "rk4"),
    "kuramoto_heun_rows": lambda P: _kuramoto("neumann", "heun", dims=(1, P)),
    "periodic_rk4": lambda P: _kuramoto("periodic", "rk4"),
    "periodic_axis1_euler": lambda P: _kuramoto(("neumann", "periodic"), "euler", dims=(1, P)),
    "rk45": lambda P: _kuramoto("neumann", "rk45", t_end=3.0, dt=0.01),
    # variable coefficient and every kind of wall: Dirichlet, Robin, Neumann with a flux
    "mixed_rk4": lambda P: _field(sc.div(c * sc.grad(u)) - 0.5 * u, dict(state=u, fields=[c], bc=MIXED_BC,
                                                                         spacing=(0.5, 1.0)),
                                  (37, 23), "rk4", inputs={"c": "field"}),
    # radius 2
    "bilaplace_rk4": lambda P: _field(-0.002 * sc.laplace(sc.laplace(u)) + sc.laplace(u) * 0.05,
                                      dict(state=u, bc=((sc.Dirichlet(0.2), sc.Neumann()),
                                                        (sc.Neumann(0.1), sc.Neumann()))),
                                      (37, 23), "rk4"),
    # a cross derivative reads the corners; periodic along axis 1 sends them across the wrap
    "cross_rk4": lambda P: _field(0.2 * sc.D(sc.D(u, 0), 1) + 0.1 * sc.laplace(u),
                                  dict(state=u, bc=((sc.Dirichlet(0.5), sc.Neumann()), (sc.Periodic(), sc.Periodic()))),
                                  (37, 23), "rk4", dims=(2, P // 2) if P % 2 == 0 else None),
    # a system in one fused kernel, Euler through the fused step
    "system_euler": lambda P: dict(
        rhs={u: 0.2 * sc.laplace(u) - u * v ** 2 + sp.Symbol("F") * (1 - u),
             v: 0.1 * sc.laplace(v) + u * v ** 2 - 0.1 * v},
        options=dict(bc={"u": "neumann", "v": ((sc.Dirichlet(0.0), sc.Neumann()), (sc.Neumann(), sc.Neumann()))}),
        shape=(37, 23), dims=None,
        initial={"u": np.random.default_rng(3).uniform(0, 1, (37, 23)),
                 "v": np.random.default_rng(4).uniform(0, 1, (37, 23))},
        inputs={"F": 0.04}, run=dict(method="euler", t_end=1.0, dt=0.05)),
    # 3-D, with cross derivatives over the split axes
    "cube_rk4": lambda P: _field(sc.laplace(u) + 0.3 * sc.D(sc.D(u, 1), 2) + 0.2 * sc.D(sc.D(u, 0), 2)
                                 + 0.1 * sp.sin(u),
                                 dict(state=u, ndim=3, bc=((sc.Dirichlet(0.5), sc.Neumann()), (sc.Periodic(), sc.Periodic()),
                                                           (sc.Neumann(0.2), sc.Dirichlet(0.0)))),
                                 (13, 11, 9), "rk4", t_end=0.1, dt=0.02),
    "cube_split_12_euler": lambda P: _field(sc.laplace(u) + 0.3 * sc.D(sc.D(u, 1), 2),
                                            dict(state=u, ndim=3, bc="neumann"), (7, 11, 9), "euler",
                                            dims=(1, 2, P // 2) if P % 2 == 0 else (1, P, 1), t_end=0.1, dt=0.02),
    # coordinates and time: a moving source, a wall temperature varying along the wall and in
    # time, a flux through another, on a grid whose origin is not 0 (every rank's coordinates must
    # be the global grid's)
    "coords_time_rk4": lambda P: _field(
        0.3 * sc.laplace(u) + sp.exp(-((sc.x - sp.cos(sc.t)) ** 2 + (sc.y - 1.0) ** 2)) * sc.y,
        dict(state=u, spacing=(0.25, 0.125), origin=(-2.0, 0.5),
             bc=((sc.Dirichlet(sp.sin(sc.t) * sc.y), sc.Neumann(0.1 * sc.y)),
                 (sc.Robin(1.0, 0.5, sc.x * sc.t), sc.Neumann()))),
        (37, 23), "rk4", t_end=0.2, dt=0.01),
    # blows up inside one block only (c = 1 there): every rank must stop at the same step
    "blowup_euler": lambda P: dict(
        rhs=c * u ** 2 + 0.05 * sc.laplace(u), options=dict(state=u, fields=[c]), shape=(24, 20), dims=(P, 1),
        initial=np.ones((24, 20)), inputs={"c": np.pad(np.ones((3, 4)), ((18, 3), (8, 8)))},
        run=dict(method="euler", t_end=20.0, dt=0.05)),
}

# what each rank count runs (every case on 1 rank: it must be the single-process result exactly)
ON = {1: sorted(set(CASES) - {"blowup_euler"}),
      2: ["coords_time_rk4", "kuramoto_euler", "kuramoto_rk4", "kuramoto_heun_rows", "periodic_rk4", "periodic_axis1_euler",
          "mixed_rk4", "cross_rk4", "system_euler", "cube_split_12_euler"],
      3: ["coords_time_rk4", "kuramoto_euler", "kuramoto_rk4", "kuramoto_heun_rows", "bilaplace_rk4", "mixed_rk4", "system_euler"],
      4: ["coords_time_rk4", "kuramoto_euler", "kuramoto_rk4", "periodic_rk4", "periodic_axis1_euler", "rk45", "mixed_rk4",
          "bilaplace_rk4", "cross_rk4", "system_euler", "cube_rk4", "cube_split_12_euler"]}


def _compile(case, backend):
    opts = dict(case["options"])
    return sc.compile_stencil(case["rhs"], ndim=opts.pop("ndim", 2), backend=backend, **opts)


def backend_for(dims, force=None):
    """The backend of a run over `dims` ranks per axis (see the module docstring)."""
    return force or "c"


def single(name, backend="c", P=1):
    """(final state, Solution) of the case on one process."""
    case = CASES[name](P)
    sol = sc.integrate(_compile(case, backend), case["initial"], inputs=case["inputs"], **case["run"])
    return sol.final, sol


def distributed(name, P, backend=None):
    """(gathered final state on rank 0 or None, Solution with local frames, Decomposition,
    backend)."""
    from stencilc.distributed import Decomposition

    case = CASES[name](P)
    dec = Decomposition(case["shape"], dims=case["dims"])
    backend = backend_for(dec.dims, backend)
    kd = dec.distribute(_compile(case, backend))
    root = dec.rank == 0
    initial = dec.scatter(case["initial"] if root else None)
    inputs = {k: dec.scatter(x if root else None) if isinstance(x, np.ndarray) else x
              for k, x in case["inputs"].items()}
    sol = sc.integrate(kd, initial, inputs=inputs, **case["run"])
    return dec.gather(sol.final), sol, dec, backend
