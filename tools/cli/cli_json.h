/* The command line's JSON and UTF-8 helpers (main.c), through jansson. */
#ifndef ANTHEM_CLI_JSON_H
#define ANTHEM_CLI_JSON_H

#include <jansson.h>

/* s with ill-formed UTF-8 replaced by U+FFFD, malloc'd (NULL: no memory). */
char *cli_utf8_clean(const char *s);
/* A JSON string of s (cleaned as above); NULL when out of memory. */
json_t *cli_json_text(const char *s);
/* Print j on one line and release it; 0 or -1. */
int cli_json_print(json_t *j);

#endif
