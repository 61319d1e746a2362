/* anthem train over MPI (docs/distributed.md): the library's communicator
 * seam (anthem_train_comm) wired to MPI_Allreduce and MPI_Allgatherv.
 * Without MPI at build time, or when not started by mpirun, every rank
 * function says "one process". */
#ifndef ANTHEM_CLI_COMM_MPI_H
#define ANTHEM_CLI_COMM_MPI_H

#include <anthem/anthem.h>

/* Start MPI when this process was started by an MPI launcher (its
 * environment says so); fills *comm and returns its size (1: run alone,
 * comm unused).  -1 with a message when MPI is wanted but fails. */
int cli_mpi_start(anthem_train_comm *comm);

/* Count the collectives' time and bytes from here on (after the ranks'
 * agreement, which waits for the slowest rank to load its data: not a
 * training step's cost). */
void cli_mpi_count_from_here(void);

/* End every rank of the job with exit code `code`, after this rank's own
 * message (MPI_Abort); returns only when MPI is not running. */
void cli_mpi_abort(int code);

/* On stderr: steps, bytes this rank sent per step and its time per step
 * inside the collectives, against `seconds` of training (for
 * bench/train/mpi). */
void cli_mpi_report(double seconds);

/* MPI_Finalize, when cli_mpi_start started MPI. */
void cli_mpi_end(void);

#endif
