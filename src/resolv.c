/* resolv.c -- read the search list of a resolv.conf-style file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sextant/error.h>

#include <sextant/resolv.h>

int
sx_resolv_search(const char *path, uint8_t (*out)[SX_DNAME_MAX], int max, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0, lineno = 0;

	if (!f) {
		int e = errno;
		snprintf(err, errlen, "failed to parse \"%s\": %s", path, strerror(e));
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *key = strtok_r(line, " \t\r\n", &save), *dom;

		lineno++;
		if (!key || key[0] == '#' || key[0] == ';' ||
		    (strcmp(key, "search") != 0 && strcmp(key, "domain") != 0)) {
			continue;
		}
		/* A later line replaces what an earlier one said. */
		n = 0;
		while ((dom = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
			uint8_t wire[SX_DNAME_MAX];

			if (sx_dname_from_str(wire, dom) < 0) {
				snprintf(err, errlen,
				         "failed to parse \"%s\": line %d: bad domain \"%s\"", path,
				         lineno, dom);
				fclose(f);
				return SX_EINVAL;
			}
			if (n < max) {
				sx_dname_lower(out[n++], wire);
			}
			if (!strcmp(key, "domain")) {
				break;
			}
		}
	}
	fclose(f);
	return n;
}
