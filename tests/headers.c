/* Compiled as -std=c99 -pedantic -Werror: the public headers must stay
 * plain C99 whatever the library itself is written in. */
#include <anthem/anthem.h>

#include <stdio.h>

int main(void)
{
	/* the headers and the library agree on the version */
	if (anthem_version_number() != ANTHEM_VERSION_NUMBER) {
		fprintf(stderr, "header %d, library %u\n",
			ANTHEM_VERSION_NUMBER, anthem_version_number());
		return 1;
	}
	return 0;
}
