// What an MPI launcher told this process through its environment, read without MPI itself: so a
// kiln built without MPI can still see that mpirun started it as one of several ranks, and say so
// instead of running the same job N times over.
#pragma once

namespace kiln::io {

// The number of ranks the launcher started (OpenMPI's OMPI_COMM_WORLD_SIZE, PMI_SIZE of MPICH
// and Slurm's PMI, PMIX_SIZE); 1 when no launcher started this process.
int launcher_world_size();

}  // namespace kiln::io
