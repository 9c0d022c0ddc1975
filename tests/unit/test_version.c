/* test_version.c -- sx_version(): the version meson stamped, in the form plugins and banners show. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include <sextant/plugin.h>

Test(version, is_one_static_string)
{
	cr_assert_not_null(sx_version());
	/* The same string each time: plugins may keep the pointer. */
	cr_assert_eq(sx_version(), sx_version());
}

Test(version, reads_major_minor_patch)
{
	const char *v = sx_version();
	char *end;

	/* MAJOR.MINOR.PATCH, as `sextant -version` prints it beside CoreDNS's. */
	for (int part = 0; part < 3; part++) {
		cr_assert(*v >= '0' && *v <= '9', "%s", sx_version());
		strtoul(v, &end, 10);
		v = end;
		if (part < 2) {
			cr_assert_eq(*v, '.', "%s", sx_version());
			v++;
		}
	}
	cr_assert(*v == '\0' || *v == '-', "%s", sx_version());
}
