#include "common/internal.h"

unsigned anthem_version_number(void) { return ANTHEM_VERSION_NUMBER; }

const char *anthem_version_string(void) { return ANTHEM_VERSION_STRING; }
