"""Front end: operators, strings, state inference, parameters order, and the user errors (StencilError naming the mistake)."""
import numpy as np
import pytest
import sympy as sp

import stencilc as sc
from stencilc import D, Dirichlet, Field, Neumann, Periodic, StencilError, div, dot, grad, laplace
from stencilc.lower import lower, extents
from stencilc.symbolic import check_problem

theta, omega, u, v, c = sc.fields("theta omega u v c")
K, a = sp.symbols("K a")


def test_operators_are_unevaluated_sympy():
    e = omega + K * div(sp.sin(grad(theta)))
    assert "K*div(sin(grad(theta)))" in str(e)
    assert e.subs(K, 2) == omega + 2 * div(sp.sin(grad(theta)))
    assert isinstance(theta, sp.Symbol) and theta != sp.Symbol("theta")


def test_state_and_call_order():
    p = check_problem(omega + K * div(sp.sin(grad(theta))) + a)
    assert p.state == ("theta",) and p.fields == ("omega",) and p.params == ("K", "a")
    p = check_problem("b*u + c*laplace(u) + w + v", state="u", fields=["w", "v"])
    assert p.fields == ("w", "v") and p.params == ("b", "c")


def test_string_rhs_matches_sympy_rhs():
    s = check_problem("omega + K*div(sin(grad(theta)))", state="theta", fields=["omega"])
    e = check_problem(omega + K * div(sp.sin(grad(theta))))
    assert lower(s) == lower(e)


def test_reserved_sympy_names_are_ordinary_in_strings():
    p = check_problem("E*laplace(u) + I + N*S + beta + gamma + lambda_", state="u")
    assert set(p.params) == {"E", "I", "N", "S", "beta", "gamma", "lambda_"}


def test_dict_rhs_keeps_insertion_order():
    p = check_problem({v: laplace(v) + u, u: laplace(u) - v})
    assert p.state == ("v", "u")
    p = check_problem({"u": "laplace(u) - u*v**2", "v": "laplace(v) + u*v^2"})
    assert p.state == ("u", "v") and p.fields == ()


@pytest.mark.parametrize("expr,radius", [(laplace(u), 1), (laplace(laplace(u)), 2), (D(u, 0), 1),
                                         (div(c * grad(u)), 1), (u * a, 0)])
def test_radius_from_expression(expr, radius):
    p = check_problem(expr, state=u, ndim=2)
    assert max(max(e) for e in extents(lower(p), 2)) == radius


@pytest.mark.parametrize("expr,match", [
    (grad(u), "vector-valued"),
    (u + grad(u), "adds a vector and a scalar"),
    (div(u), "div of a scalar"),
    (laplace(grad(u)), "laplace of a vector"),
    (dot(u, grad(u)), "dot of a scalar u"),
    (div(grad(u) * grad(v)), "multiplies two vectors"),
    (D(u, 2), r"D\(u, 2\).*ndim=2"),
    (sp.Function("f")(u) + laplace(u), "unknown function f"),
    (sp.Derivative(u, sp.Symbol("x")), "Derivative"),
    (sp.I * laplace(u), r"imaginary unit I, but dtype=.float64. is real; use dtype=.complex128."),
    (sp.oo * laplace(u), "not a finite number"),
])
def test_expression_errors_name_the_offender(expr, match):
    with pytest.raises(StencilError, match=match):
        check_problem(expr, state=u)


@pytest.mark.parametrize("text,match", [
    ("omega + K*", "could not parse"),
    ("foo(theta) + laplace(theta)", "unknown function 'foo'"),
    ("laplace(theta", "could not parse"),
    ("", "empty"),
])
def test_malformed_strings(text, match):
    with pytest.raises(StencilError, match=match):
        check_problem(text, state="theta")


def test_ambiguous_and_missing_state():
    with pytest.raises(StencilError, match=r"state=.*|pass state="):
        check_problem(laplace(u) + laplace(v))
    with pytest.raises(StencilError, match="pass state="):
        check_problem(u * v)
    with pytest.raises(StencilError, match="'w' does not appear"):
        check_problem(laplace(u), state="w")
    with pytest.raises(StencilError, match="field 'q' listed in fields= does not appear"):
        check_problem(laplace(u), state=u, fields=["q"])
    with pytest.raises(StencilError, match="both as state and in fields"):
        check_problem(laplace(u) + v, state=u, fields=[u])


@pytest.mark.parametrize("kwargs,match", [
    (dict(ndim=4), "ndim=4"),
    (dict(ndim=0), "ndim=0"),
    (dict(dtype="float16"), "dtype 'float16'"),
    (dict(dtype="int32"), "dtype 'int32'"),
    (dict(spacing=0.0), "spacing 0.0 on axis 0"),
    (dict(spacing=(1.0, 2.0, 3.0)), "spacing has 3 entries but ndim=2"),
    (dict(bc="reflect"), "boundary condition 'reflect'"),
    (dict(bc=("neumann",)), "1 per-axis entries but ndim=2"),
    (dict(bc=((Periodic(), Neumann()), "neumann")), "periodic on one side only"),
    (dict(bc={"q": "neumann"}), "bc names 'q'"),
    (dict(bc={"u": "periodic", "c": "neumann"}), "input field 'c' on axis 0"),
    (dict(fastmath="yes"), "fastmath='yes'"),
])
def test_option_errors(kwargs, match):
    with pytest.raises(StencilError, match=match):
        check_problem(div(c * grad(u)), state=u, **kwargs)


def test_bc_resolution_rules():
    p = check_problem(div(c * grad(u)), state=u, bc=("periodic", (Dirichlet(1.5), "neumann")))
    bc = p.bc_of
    assert bc["u"] == ((Periodic(), Periodic()), (Dirichlet(1.5), Neumann()))
    # input fields are Neumann, except on axes periodic for the state
    assert bc["c"] == ((Periodic(), Periodic()), (Neumann(), Neumann()))
    p = check_problem(div(c * grad(u)), state=u, bc={c: "dirichlet:2", "u": "dirichlet"})
    assert p.bc_of["c"] == ((Dirichlet(2.0),) * 2,) * 2 and p.bc_of["u"] == ((Dirichlet(0.0),) * 2,) * 2
    p = check_problem(laplace(u), state=u, ndim=1, bc=(Dirichlet(1), Neumann()))
    assert p.bc_of["u"] == ((Dirichlet(1.0), Neumann()),)


def test_piecewise_without_a_final_true_branch_is_an_error():
    """Without a (value, True) branch a Piecewise has no value where no condition holds; the numpy
    backend used to print its last value unconditionally."""
    with pytest.raises(StencilError) as e:
        check_problem(laplace(u) + sp.Piecewise((u, u > 0)), state=u)
    assert "Piecewise((u, u > 0))" in str(e.value) and "(value, True)" in str(e.value)
    with pytest.raises(StencilError, match=r"Piecewise\(\(u, u > 0\)\).*\(value, True\)"):
        sc.compile_stencil("laplace(Piecewise((u, u > 0)))", state="u", backend="numpy")
    check_problem(laplace(u) + sp.Piecewise((u, u > 0), (0, True)), state=u)


def test_bad_names():
    with pytest.raises(StencilError, match="'int'"):
        check_problem("int*laplace(u)", state="u")
    with pytest.raises(StencilError, match="'n0'"):
        check_problem("n0*laplace(u)", state="u")
    with pytest.raises(StencilError, match="Dirichlet"):
        Dirichlet("sin(")
    with pytest.raises(StencilError, match="axis must be a non-negative integer"):
        D(u, -1)


def test_unknown_backend_and_name():
    with pytest.raises(StencilError, match="backend 'fortran'"):
        sc.compile_stencil(laplace(u), backend="fortran")
    with pytest.raises(StencilError, match="name '1x'"):
        sc.generate(laplace(u), name="1x")


def test_call_errors_name_the_argument():
    k = sc.compile_stencil(omega + K * div(sp.sin(grad(theta))), backend="numpy")
    t = np.zeros((4, 5))
    with pytest.raises(TypeError, match="missing argument.*'K'"):
        k(t, omega=t)
    with pytest.raises(TypeError, match="unknown argument.*'Q'"):
        k(t, omega=t, K=1.0, Q=2)
    with pytest.raises(TypeError, match="state array"):
        k(t, t, omega=t, K=1.0)
    with pytest.raises(ValueError, match="'omega' has shape \\(4, 4\\), expected \\(4, 5\\)"):
        k(t, omega=np.zeros((4, 4)), K=1.0)
    with pytest.raises(ValueError, match="'omega' has dtype float32, expected float64"):
        k(t, omega=t.astype(np.float32), K=1.0)
    with pytest.raises(ValueError, match="'theta' has 1 dimensions"):
        k(np.zeros(5), omega=t, K=1.0)
    with pytest.raises(ValueError, match="parameter 'K' must be a real number"):
        k(t, omega=t, K=np.ones(3))
    with pytest.raises(ValueError, match="overlaps input 'theta'"):
        k(t, omega=t + 1, K=1.0, out=t)
    with pytest.raises(ValueError, match="every axis needs size >= 1"):
        k(np.zeros((0, 3)), omega=np.zeros((0, 3)), K=1.0)


@pytest.mark.parametrize("rhs", [laplace(u) + laplace(v), "laplace(u) + laplace(v)"])
def test_two_fields_under_operators_are_named_both(rhs):
    with pytest.raises(StencilError) as caught:
        check_problem(rhs)
    message = str(caught.value)
    assert "fields ['u', 'v'] both appear under a differential operator" in message
    assert "pass state=" in message and "\n" not in message


def test_an_array_for_a_parameter_is_named_by_its_shape():
    k = sc.compile_stencil(omega + K * div(sp.sin(grad(theta))), backend="numpy")
    t = np.zeros((40, 50))
    with pytest.raises(ValueError) as caught:
        k(t, omega=t, K=np.full((40, 50), 0.123456))
    message = str(caught.value)
    assert "parameter 'K' must be a real number, got an array of shape (40, 50)" in message
    assert "0.123456" not in message and len(message) < 200


def test_string_state_is_inferred_like_an_expression_state():
    p = check_problem("omega + K*div(sin(grad(theta)))", fields=["omega"])
    assert p.state == ("theta",) and p.fields == ("omega",) and p.params == ("K",)
    p = check_problem("a*laplace(u) + b")
    assert p.state == ("u",) and p.params == ("a", "b")
    with pytest.raises(StencilError, match="pass state="):
        check_problem("laplace(u) + laplace(v)")


def test_constants_compile_in_c():
    u_ = sc.Field("u")
    k = sc.compile_stencil(sp.pi * laplace(u_) + sp.sqrt(2) * u_, backend="c")
    ref = sc.compile_stencil(sp.pi * laplace(u_) + sp.sqrt(2) * u_, backend="numpy")
    a = np.random.default_rng(0).random((5, 4))
    np.testing.assert_allclose(k(a), ref(a), rtol=1e-14, atol=1e-14)
