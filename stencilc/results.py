"""What a `Solution` becomes after the run: an xarray object, a ``.npz`` file, a movie.

Takes a `Solution` (its recorded times and frames, and the grid `integrate` attached: state names,
spacing and origin per axis); gives ``to_xarray`` (dims ``t``, ``x``, ``y``, ``z`` with cell-centre
coordinates ``origin + (i + 1/2) * spacing``), ``save``/``load`` (NumPy's ``.npz``, exact, no
xarray needed) and `movie` (an ``.mp4`` or ``.gif`` through imageio). The optional packages are
imported only when used; a missing one is a one-line `StencilError` naming the extra to install.
"""
from __future__ import annotations

import json
import numbers
from pathlib import Path

import numpy as np

from .display import AXES
from .errors import StencilError
from .integrate import Solution

# The .npz layout `save` writes: a marker, its version, then t, state, spacing, origin, stats and
# frames_0, frames_1, ... in state order.
_FORMAT, _VERSION = "stencilc.Solution", 1

MOVIE_SUFFIXES = (".mp4", ".gif")


def _host(x) -> np.ndarray:
    """A NumPy array of `x` (CuPy arrays are copied off the device)."""
    return x.get() if type(x).__module__.split(".")[0] == "cupy" else np.asarray(x)


def _stacks(solution) -> tuple[tuple[str | None, ...], list]:
    """(names, frame stacks) in state order; the name of a single field is None when unknown."""
    if isinstance(solution.frames, dict):
        return tuple(solution.frames), list(solution.frames.values())
    names = tuple(solution.state) if solution.state else (None,)
    return names[:1], [solution.frames]


def _per_axis(values, ndim: int, default: float) -> tuple[float, ...]:
    if values is None:
        return (default,) * ndim
    values = tuple(values)
    return values if len(values) == ndim else (values[0],) * ndim


def coordinates(solution) -> dict[str, np.ndarray]:
    """The cell centres per axis name: ``origin + (i + 1/2) * spacing``."""
    shape = _stacks(solution)[1][0].shape[1:]
    ndim = len(shape)
    spacing = _per_axis(solution.spacing, ndim, 1.0)
    origin = _per_axis(solution.origin, ndim, 0.0)
    return {AXES[a]: origin[a] + (np.arange(n) + 0.5) * spacing[a] for a, n in enumerate(shape)}


def _plain_stats(stats: dict) -> dict:
    """The stats that a netCDF attribute can hold (numbers and strings)."""
    return {k: v for k, v in stats.items() if isinstance(v, (numbers.Number, str))
            and not isinstance(v, bool)}


def to_xarray(solution):
    """The frames as an ``xarray.DataArray`` named by the state field (a ``Dataset`` of one
    variable per field for a system), dims ``("t", "x", ...)``, cell-centre coordinates and the
    stats as attributes."""
    try:
        import xarray as xr
    except ImportError:
        raise StencilError('Solution.to_xarray() needs xarray: pip install "stencilc[xarray]"') from None
    names, stacks = _stacks(solution)
    coords = {"t": np.asarray(solution.t), **coordinates(solution)}   # iterate's t: int64 steps
    dims = ("t",) + AXES[:stacks[0].ndim - 1]
    attrs = _plain_stats(solution.stats)
    arrays = [xr.DataArray(_host(stack), dims=dims, coords=coords, name=name, attrs=dict(attrs))
              for name, stack in zip(names, stacks)]
    if isinstance(solution.frames, dict):
        return xr.Dataset({name: a for name, a in zip(names, arrays)}, attrs=attrs)
    return arrays[0]


def _npz_path(path) -> Path:
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save(solution, path) -> Path:
    """Write `solution` to ``path`` (``.npz`` added when missing); returns the path written."""
    path = _npz_path(path)
    names, stacks = _stacks(solution)

    def plain(value):
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"stats value {value!r} of type {type(value).__name__} cannot be saved")

    arrays = {
        "format": np.array(_FORMAT), "version": np.array(_VERSION),
        "t": np.asarray(solution.t),      # times (float64), or iterate's step counts (int64)
        "state": np.array([n for n in names if n is not None], dtype=str),
        "system": np.array(isinstance(solution.frames, dict)),
        "spacing": np.array(solution.spacing if solution.spacing is not None else [], dtype=np.float64),
        "origin": np.array(solution.origin if solution.origin is not None else [], dtype=np.float64),
        "stats": np.array(json.dumps(solution.stats, default=plain)),
    }
    arrays.update({f"frames_{i}": _host(stack) for i, stack in enumerate(stacks)})
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def load(path) -> Solution:
    """The `Solution` that `save` wrote to ``path``."""
    path = Path(path)
    if not path.exists() and _npz_path(path).exists():
        path = _npz_path(path)
    with np.load(path, allow_pickle=False) as data:
        if "format" not in data.files or str(data["format"]) != _FORMAT:
            raise StencilError(f"{str(path)!r} is not a Solution written by Solution.save")
        if int(data["version"]) > _VERSION:
            raise StencilError(f"{str(path)!r} was written by a newer stencilc (format version "
                               f"{int(data['version'])}); upgrade stencilc to read it")
        names = tuple(str(n) for n in data["state"])
        system = bool(data["system"])
        stacks = [data[f"frames_{i}"] for i in range(len(names) if system else 1)]
        spacing = tuple(float(h) for h in data["spacing"]) or None
        origin = tuple(float(o) for o in data["origin"]) or None
        t, stats = data["t"], json.loads(str(data["stats"]))
    grid = {"state": names or None, "spacing": spacing, "origin": origin}
    if system:
        return Solution(t, dict(zip(names, stacks)), {n: s[-1] for n, s in zip(names, stacks)},
                        stats, **grid)
    return Solution(t, stacks[0], stacks[0][-1], stats, **grid)


# --------------------------------------------------------------------------- movies

def _need(module: str, what: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise StencilError(f'{what} needs {module.split(".")[0]}: pip install "stencilc[movie]"') from None


def movie(solution, path, *, field=None, fps=10, cmap="viridis", vmin=None, vmax=None,
          transform=None, z_index=None, scale=None) -> Path:
    """Write the recorded frames of `solution` as a movie, one frame per recorded time.

    Parameters
    ----------
    solution : Solution
        A 2-D or 3-D run (for 3-D, the plane ``z = z_index`` is shown).
    path : str or Path
        ``"out.mp4"`` (H.264 through imageio-ffmpeg) or ``"out.gif"`` (looping).
    field : str, optional
        Which state field of a system (default: the first).
    fps : float
        Frames per second.
    cmap : str
        A Matplotlib colour map name.
    vmin, vmax : float, optional
        The values at the ends of the colour map; default the smallest and largest over all
        frames, so that a colour means the same value throughout.
    transform : callable, optional
        Applied to each frame before colouring (e.g. ``lambda u: np.mod(u, 2*np.pi)`` for a
        phase). Complex frames without one show their modulus.
    z_index : int, optional
        The z plane of a 3-D run (default the middle one).
    scale : int, optional
        Pixels per grid cell (default: enough for about 256 pixels across).

    Returns
    -------
    Path
        The file written. Axis 0 (x) runs to the right and axis 1 (y) upwards.

    Raises
    ------
    StencilError
        For an unknown suffix or field, a 1-D run, or a missing package: imageio (and
        imageio-ffmpeg for ``.mp4``) and Matplotlib, all in ``pip install "stencilc[movie]"``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MOVIE_SUFFIXES:
        raise StencilError(f"movie path {str(path)!r} must end in " + " or ".join(MOVIE_SUFFIXES))
    if not (isinstance(fps, numbers.Real) and fps > 0):
        raise StencilError(f"fps must be a positive number, got {fps!r}")
    images = _images(solution, field, cmap, vmin, vmax, transform, z_index, scale)
    if suffix == ".gif":
        iio = _need("imageio.v3", "writing a .gif")
        # GIF frame times are whole hundredths of a second
        iio.imwrite(path, np.stack(images), extension=".gif", duration=max(10, round(100 / fps) * 10),
                    loop=0)
    else:
        imageio = _need("imageio.v2", "writing an .mp4")
        _need("imageio_ffmpeg", "writing an .mp4")
        with imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                macro_block_size=1, pixelformat="yuv420p") as writer:
            for image in images:
                writer.append_data(image)
    return path


def _images(solution, field, cmap, vmin, vmax, transform, z_index, scale) -> list[np.ndarray]:
    """The frames as RGB images (uint8), x to the right and y upwards, an even number of pixels
    each way (H.264's 4:2:0 colour needs that)."""
    colormaps = _need("matplotlib", "stencilc.movie").colormaps
    names, stacks = _stacks(solution)
    if field is None:
        stack = stacks[0]
    elif field in names:
        stack = stacks[names.index(field)]
    else:
        raise StencilError(f"field {field!r} is not a state field of this solution; it has "
                           + ", ".join(repr(n) for n in names if n is not None))
    if cmap not in colormaps:
        raise StencilError(f"cmap {cmap!r} is not a Matplotlib colour map (e.g. 'viridis', 'magma')")
    ndim = stack.ndim - 1
    if ndim == 1:
        raise StencilError("a movie needs a 2-D or 3-D solution; plot a 1-D solution's frames "
                           "(solution.frames) as lines instead")
    if ndim == 3:
        depth = stack.shape[3]
        z_index = depth // 2 if z_index is None else z_index
        if not (isinstance(z_index, numbers.Integral) and -depth <= z_index < depth):
            raise StencilError(f"z_index={z_index!r} is not a plane of a grid {depth} deep along z")
        stack = stack[..., z_index]
    frames = [_host(f) for f in stack]
    if transform is not None:
        frames = [np.asarray(transform(f)) for f in frames]
    elif np.iscomplexobj(frames[0]):
        frames = [np.abs(f) for f in frames]
    frames = [np.asarray(f, dtype=np.float64) for f in frames]
    low = min(float(np.nanmin(f)) for f in frames) if vmin is None else float(vmin)
    high = max(float(np.nanmax(f)) for f in frames) if vmax is None else float(vmax)
    span = high - low if high > low else 1.0
    nx, ny = frames[0].shape
    if scale is None:
        scale = max(1, 256 // max(nx, ny))
    if not (isinstance(scale, numbers.Integral) and scale >= 1):
        raise StencilError(f"scale must be a positive integer (pixels per cell), got {scale!r}")
    colours = colormaps[cmap]
    images = []
    for f in frames:
        rgb = (colours(np.clip((f.T[::-1] - low) / span, 0, 1))[..., :3] * 255).round().astype(np.uint8)
        rgb = rgb.repeat(scale, 0).repeat(scale, 1)
        pad = ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0))
        images.append(np.pad(rgb, pad, mode="edge"))
    return images
