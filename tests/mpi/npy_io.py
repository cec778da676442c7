"""Global .npy files through MPI-IO: `save` on one rank count, `load` on another.

    mpiexec -n P python -m mpi4py tests/mpi/npy_io.py save DIR   (writes DIR/a.npy, b.npy, big.npy)
    mpiexec -n P python -m mpi4py tests/mpi/npy_io.py load DIR   (reads them and DIR/numpy.npy back,
                                                                 gathers, rank 0 writes *_loaded.npy)

The arrays are those of `arrays()`, built from seeds, so the test can rebuild them. `save` also
writes over DIR/big.npy, which the test leaves there larger than what is written. `load` also
asks for a wrong global shape: every rank prints its StencilError.
"""
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

import stencilc as sc
from stencilc.distributed import Decomposition


def arrays():
    rng = np.random.default_rng(21)
    return {"a": rng.standard_normal((37, 23)),
            "b": rng.standard_normal((5, 6, 7)) + 1j * rng.standard_normal((5, 6, 7)),
            "big": np.arange(13, dtype=np.int32)}


if __name__ == "__main__":
    mode, where = sys.argv[1], Path(sys.argv[2])
    rank = MPI.COMM_WORLD.Get_rank()
    if mode == "save":
        for name, x in arrays().items():
            dec = Decomposition(x.shape)
            dec.save(where / f"{name}.npy", dec.scatter(x if rank == 0 else None))
    else:
        for name, x in arrays().items():
            dec = Decomposition(x.shape)
            full = dec.gather(dec.load(where / f"{name}.npy"))
            if rank == 0:
                np.save(where / f"{name}_loaded.npy", full)
        dec = Decomposition((4, 9, 5))
        full = dec.gather(dec.load(where / "numpy.npy"))
        if rank == 0:
            np.save(where / "numpy_loaded.npy", full)
        try:
            Decomposition((36, 23)).load(where / "a.npy")
        except sc.StencilError as exc:
            print(f"rank {rank}: StencilError: {exc}", flush=True)
