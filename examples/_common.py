"""Plumbing shared by the gallery scripts: the common command line, compiling and integrating with
timings, the summary lines a script prints, and its pictures.

Every script prints three parseable lines (besides ``wrote:`` lines for its files)::

    ran: <example> size=... backend=... dtype=... method=... dt=... [t0=...] t_end=... steps=...
    wall: compile=0.12s solve=1.05s cached=True
    check: <name>=<value> [<name>=<value> ...]

so that `tests/test_examples.py` (and anyone scripting the gallery) can read the physics check
with ``dict(kv.split("=") for kv in line.split()[1:])``.
"""

import argparse
import os
import sys
import time

import numpy as np

import stencilc

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ModuleNotFoundError:   # the physics and the check line need no pictures
    plt = None
NO_PICTURES = 'matplotlib is not installed: pip install "stencilc[examples]" for the pictures'

# A run is shown with a progress bar when it does more cell updates than this (a few seconds of
# compiled code on two cores); the NumPy backend counts as this many times slower.
_PROGRESS_WORK = 1e9
_NUMPY_SLOWDOWN = 20


def parser(doc, *, size, t_end, dt=None, method="rk4", dtypes=("float64", "float32")):
    """The command line every example shares; a script adds its own physical parameters to it.

    ``dt=None`` means the script derives a stable step from the grid spacing; ``dtypes`` are the
    choices of --dtype, the first the default (a complex equation's are complex128, complex64).
    """
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=size, help=f"grid points per axis (default {size})")
    p.add_argument("--t-end", type=float, default=t_end, help=f"final time (default {t_end:g})")
    p.add_argument("--dt", type=float, default=dt,
                   help="time step" + (f" (default {dt:g})" if dt else " (default: stable for --size)"))
    p.add_argument("--method", default=method, choices=["euler", "heun", "rk4", "rk45"],
                   help=f"time integrator (default {method})")
    p.add_argument("--backend", default="c", choices=["numpy", "numba", "c"], help="default c")
    p.add_argument("--dtype", default=dtypes[0], choices=list(dtypes), help=f"default {dtypes[0]}")
    p.add_argument("--out", default="out", help="directory for the pictures (default out/)")
    p.add_argument("--seed", type=int, default=0, help="random seed for the initial state (default 0)")
    p.add_argument("--thumbnail", metavar="PNG", help="also write a small picture for the gallery here")
    return p


class Run:
    """One example run: compiles the stencil, integrates it, and prints what it did and how long."""

    def __init__(self, name, args):
        self.name, self.args = name, args
        self.compile_seconds, self.cached = 0.0, True
        os.makedirs(args.out, exist_ok=True)

    def compile(self, rhs, **options):
        start = time.perf_counter()
        try:
            k = stencilc.compile_stencil(rhs, backend=self.args.backend, dtype=self.args.dtype, **options)
        except stencilc.StencilError as e:  # e.g. a backend this machine lacks: say so in one line
            sys.exit(f"{self.name}: {e}")
        self.compile_seconds += time.perf_counter() - start
        self.cached = self.cached and k.from_cache
        return k

    def integrate(self, k, initial, *, inputs=None, dt, record_every=None, t0=0.0, **options):
        """`stencilc.integrate` from t0 to --t-end; prints the ``ran:`` and ``wall:`` lines. The
        compile time counts what `compile` took and the kernels the run built before its clock
        started (``stats["compile_seconds"]``); the solve time is the run alone."""
        a = self.args
        steps = int(np.ceil((a.t_end - t0) / dt - 1e-9))
        grid = np.shape(next(iter(initial.values())) if isinstance(initial, dict) else initial)
        cells = np.prod(grid)
        evals = {"euler": 1, "heun": 2, "rk4": 4, "rk45": 6}[a.method]
        work = steps * cells * evals * len(k.state) * (_NUMPY_SLOWDOWN if a.backend == "numpy" else 1)
        sol = stencilc.integrate(k, initial, t_end=a.t_end, dt=dt, method=a.method, inputs=inputs, t0=t0,
                                 record_every=record_every, progress=work > _PROGRESS_WORK, **options)
        shape = "x".join(map(str, grid))   # a script may run more than one size
        since = f" t0={t0:g}" if t0 else ""
        print(f"ran: {self.name} size={shape} backend={a.backend} dtype={a.dtype} method={a.method} "
              f"dt={dt:.4g}{since} t_end={a.t_end:g} steps={sol.stats['steps']} rhs_evals={sol.stats['rhs_evals']}")
        self.compile_seconds += sol.stats["compile_seconds"]
        print(f"wall: compile={self.compile_seconds:.2f}s solve={sol.stats['wall_seconds']:.2f}s "
              f"cached={self.cached}")
        return sol

    def check(self, **values):
        print("check: " + " ".join(f"{key}={_fmt(v)}" for key, v in values.items()))

    def path(self, filename):
        return os.path.join(self.args.out, filename)

    def save(self, fig, filename):
        path = self.path(filename)
        if plt is None:
            print(f"skipped: {path} ({NO_PICTURES})")
            return None
        fig.savefig(path, dpi=100)
        plt.close(fig)
        print(f"wrote: {path}")
        return path

    def thumbnail(self, image, **imshow):
        """The gallery's picture: just the field, 160 px square, no axes (well under 150 KB)."""
        if not self.args.thumbnail or plt is None:
            return
        fig = plt.figure(figsize=(1.6, 1.6), dpi=100)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.imshow(image, origin="lower", **{"interpolation": "bilinear", **imshow})
        ax.set_axis_off()
        os.makedirs(os.path.dirname(os.path.abspath(self.args.thumbnail)), exist_ok=True)
        fig.savefig(self.args.thumbnail, dpi=100)
        plt.close(fig)
        print(f"wrote: {self.args.thumbnail}")


def _fmt(v):
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.3e}"
    return str(v)


def cell_centres(n, length=1.0):
    """Cell-centre coordinates of an n-cell grid on [0, length]: the grid stencilc discretises on."""
    h = length / n
    return (np.arange(n) + 0.5) * h


def show_field(ax, image, title, *, label, length=None, units=None, **imshow):
    """`imshow` of a field stored as ``image[y, x]`` (the gallery's layout: the last axis is x), y
    upwards, axes labelled x and y in the example's units, and a colour bar labelled `label`.

    ``length``: the domain's size, one value or (along x, along y); default the number of grid
    points (lattice units, h = 1). ``units``: what x and y are measured in, shown after them.
    """
    ny, nx = image.shape
    lx, ly = (nx, ny) if length is None else np.broadcast_to(length, 2)
    im = ax.imshow(image, origin="lower", extent=(0, lx, 0, ly), **imshow)
    ax.set_title(title, fontsize=10)
    suffix = f" ({units})" if units else ""
    ax.set_xlabel("x" + suffix)
    ax.set_ylabel("y" + suffix)
    bar = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(label)
    return im


class _NoPicture:
    """Stands for a figure or an axis when matplotlib is missing: every use of it does nothing."""

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self

    def __getitem__(self, key):
        return self


def figure(ncols=1, width=4.6, height=3.8):
    """A figure and its `ncols` axes (one axis, or a tuple); placeholders without matplotlib."""
    if plt is None:
        return _NoPicture(), (_NoPicture() if ncols == 1 else tuple(_NoPicture() for _ in range(ncols)))
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), layout="constrained")
    fig.get_layout_engine().set(wspace=0.08)  # keeps a colour bar's label clear of the next axis label
    return fig, axes


if __name__ == "__main__":  # pragma: no cover
    sys.exit("examples/_common.py is a helper module; run one of the example scripts instead")
