// Compiled as C++11 with -pedantic -Werror: the public headers must be
// usable from C++ (extern "C", no C-only constructs).
#include <anthem/anthem.h>

#include <cstdio>
#include <cstring>

int main()
{
	anthem_vectors *v = nullptr;
	const float pts[2] = {0.1f, 0.2f};
	if (anthem_vectors_copy(&v, 1, 2, pts) != ANTHEM_OK)
		return 1;
	int ok = anthem_vectors_count(v) == 1 &&
		 std::strcmp(anthem_version_string(), ANTHEM_VERSION_STRING) == 0;
	anthem_vectors_free(v);
	if (!ok)
		std::fprintf(stderr, "C++ call through the C ABI failed\n");
	return ok ? 0 : 1;
}
