/* The MPI communicator of anthem train (see comm_mpi.h). */
#include "comm_mpi.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ANTHEM_CLI_MPI
#include <limits.h>
#include <mpi.h>


static int started;
static int *counts, *displs;
/* what bench/train/mpi reads: this rank's time inside the collectives
 * (waiting for slower ranks included) and the bytes it sent, since
 * cli_mpi_count_from_here, and the steps (one allreduce each) */
static double comm_seconds;
static unsigned long long comm_sent, comm_steps;

/* mpirun (Open MPI), mpiexec.hydra (MPICH) and PMIx launchers set these;
 * a plain `anthem train` has none and never touches MPI, so it runs on a
 * machine without a launcher's daemons */
static int under_launcher(void)
{
	static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
				     "PMI_SIZE", "PMI_RANK"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		if (getenv(vars[i]))
			return 1;
	return 0;
}

static int mpi_allreduce(float *buf, size_t n, void *user)
{
	(void)user;
	if (n > INT_MAX)
		return -1;
	double t0 = cli_now();
	int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM,
			       MPI_COMM_WORLD);
	comm_seconds += cli_now() - t0;
	comm_sent += n * sizeof(float);
	comm_steps++;
	return rc;
}

static int mpi_allgather(const void *send, size_t len, void *recv,
			 const size_t *lens, void *user)
{
	anthem_train_comm *c = user;
	size_t off = 0;
	for (int r = 0; r < c->size; r++) {
		/* MPI counts are ints: beyond 2 GiB a step would need
		 * several calls, far above any batch this trainer runs */
		if (lens[r] > INT_MAX || off > (size_t)INT_MAX - lens[r])
			return -1;
		counts[r] = (int)lens[r];
		displs[r] = (int)off;
		off += lens[r];
	}
	double t0 = cli_now();
	int rc = MPI_Allgatherv(send, (int)len, MPI_BYTE, recv, counts, displs,
				MPI_BYTE, MPI_COMM_WORLD);
	comm_seconds += cli_now() - t0;
	comm_sent += len;
	return rc;
}

int cli_mpi_start(anthem_train_comm *comm)
{
	static anthem_train_comm self;
	if (!under_launcher())
		return 1;
	int rank, size;
	if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
		fprintf(stderr, "anthem train: MPI_Init failed\n");
		return -1;
	}
	started = 1;
	/* a failed call returns its code to the trainer, which names the
	 * rank; the CLI then ends the job with MPI_Abort */
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	counts = malloc((size_t)size * sizeof *counts);
	displs = malloc((size_t)size * sizeof *displs);
	if (!counts || !displs) {
		fprintf(stderr, "anthem train: rank %d: out of memory\n", rank);
		return -1;
	}
	memset(&self, 0, sizeof self);
	self.struct_size = sizeof self;
	self.user = &self;
	self.rank = rank;
	self.size = size;
	self.allreduce_sum = mpi_allreduce;
	self.allgather = mpi_allgather;
	*comm = self;
	return size;
}

void cli_mpi_count_from_here(void)
{
	comm_seconds = 0.0;
	comm_sent = 0;
	comm_steps = 0;
}

void cli_mpi_abort(int code)
{
	if (!started)
		return;
	fflush(stderr);
	MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}

void cli_mpi_report(double seconds)
{
	if (!started || !comm_steps)
		return;
	double n = (double)comm_steps;
	fprintf(stderr, "anthem train: MPI rank 0: %llu steps, %.0f bytes sent "
		"per step, %.3f ms per step in communication (%.1f%% of %.1f s "
		"training)\n", comm_steps, (double)comm_sent / n,
		1e3 * comm_seconds / n, 100.0 * comm_seconds / seconds, seconds);
}

void cli_mpi_end(void)
{
	if (started)
		MPI_Finalize();
	started = 0;
	free(counts);
	free(displs);
	counts = displs = NULL;
}

#else

int cli_mpi_start(anthem_train_comm *comm)
{
	(void)comm;
	return 1;
}

void cli_mpi_count_from_here(void)
{
}

void cli_mpi_abort(int code)
{
	(void)code;
}

void cli_mpi_report(double seconds)
{
	(void)seconds;
}

void cli_mpi_end(void)
{
}

#endif
