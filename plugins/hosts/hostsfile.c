/* hostsfile.c -- hosts-file lines to an immutable name table (A, AAAA and PTR). */
#include "hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/dname.h>

#define INITIAL_BUCKETS 64
#define SPACES          " \t\r\n\v\f"

static uint32_t
hash_name(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h = (h ^ name[i]) * 16777619u;
	}
	return h;
}

static struct hosts_entry *
find(const struct hosts_table *t, const uint8_t *name, size_t len, uint32_t hash)
{
	for (struct hosts_entry *e = t->buckets[hash & t->mask]; e != NULL; e = e->next) {
		if (e->hash == hash && e->len == len && memcmp(e->name, name, len) == 0) {
			return e;
		}
	}
	return NULL;
}

const struct hosts_entry *
hosts_table_find(const struct hosts_table *t, const uint8_t *name, size_t len)
{
	return find(t, name, len, hash_name(name, len));
}

static int
grow(struct hosts_table *t)
{
	size_t n = (t->mask + 1) * 2;
	struct hosts_entry **b = calloc(n, sizeof(*b));
	if (b == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i <= t->mask; i++) {
		struct hosts_entry *e = t->buckets[i];
		while (e != NULL) {
			struct hosts_entry *next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = n - 1;
	return 0;
}

static struct hosts_entry *
get_or_add(struct hosts_table *t, const uint8_t *name, size_t len)
{
	uint32_t hash = hash_name(name, len);
	struct hosts_entry *e = find(t, name, len, hash);
	if (e != NULL) {
		return e;
	}
	if (t->nnames >= 2 * (t->mask + 1) && grow(t) < 0) {
		return NULL;
	}
	e = calloc(1, sizeof(*e) + len);
	if (e == NULL) {
		return NULL;
	}
	e->hash = hash;
	e->len = (uint8_t)len;
	memcpy(e->name, name, len);
	e->next = t->buckets[hash & t->mask];
	t->buckets[hash & t->mask] = e;
	t->nnames++;
	return e;
}

/*
 * Make room for element @n of an array grown by doubling: its capacity is
 * always the next power of two, so it only moves when @n is one.
 * @return the (maybe moved) array, or NULL with @arr untouched.
 */
static void *
reserve(void *arr, uint16_t n, size_t size)
{
	if (n != 0 && (n & (n - 1)) != 0) {
		return arr;
	}
	return realloc(arr, (n != 0 ? (size_t)n * 2 : 1) * size);
}

static bool
is_wildcard(const uint8_t *name)
{
	return name[0] == 1 && name[1] == '*';
}

/* Add one name/address pair. *@added tells whether it was new. */
static int
add_addr(struct hosts_table *t, const uint8_t *name, size_t len, int family, const uint8_t *addr,
         struct hosts_entry **out, bool *added)
{
	struct hosts_entry *e = get_or_add(t, name, len);
	if (e == NULL) {
		return -ENOMEM;
	}
	*out = e;
	*added = false;
	if (family == 4) {
		for (uint16_t i = 0; i < e->n4; i++) {
			if (memcmp(e->v4[i], addr, 4) == 0) {
				return 0;
			}
		}
		if (e->n4 == UINT16_MAX) {
			return 0;
		}
		void *p = reserve(e->v4, e->n4, sizeof(e->v4[0]));
		if (p == NULL) {
			return -ENOMEM;
		}
		e->v4 = p;
		memcpy(e->v4[e->n4++], addr, 4);
	} else {
		for (uint16_t i = 0; i < e->n6; i++) {
			if (memcmp(e->v6[i], addr, 16) == 0) {
				return 0;
			}
		}
		if (e->n6 == UINT16_MAX) {
			return 0;
		}
		void *p = reserve(e->v6, e->n6, sizeof(e->v6[0]));
		if (p == NULL) {
			return -ENOMEM;
		}
		e->v6 = p;
		memcpy(e->v6[e->n6++], addr, 16);
	}
	t->naddrs++;
	*added = true;
	return 0;
}

/* Map reverse name @rname back to @target, a name interned in @t. */
static int
add_ptr(struct hosts_table *t, const uint8_t *rname, size_t rlen, const uint8_t *target)
{
	struct hosts_entry *e = get_or_add(t, rname, rlen);
	if (e == NULL) {
		return -ENOMEM;
	}
	/* Names are interned, so the same name is the same pointer. */
	for (uint16_t i = 0; i < e->nptr; i++) {
		if (e->ptr[i] == target) {
			return 0;
		}
	}
	if (e->nptr == UINT16_MAX) {
		return 0;
	}
	void *p = reserve(e->ptr, e->nptr, sizeof(e->ptr[0]));
	if (p == NULL) {
		return -ENOMEM;
	}
	e->ptr = p;
	e->ptr[e->nptr++] = target;
	return 0;
}

static size_t
put_label(uint8_t *out, const char *s)
{
	size_t n = strlen(s);
	out[0] = (uint8_t)n;
	memcpy(out + 1, s, n);
	return n + 1;
}

/* The in-addr.arpa or ip6.arpa name of @addr. @return its wire length. */
static size_t
reverse_name(uint8_t out[SX_DNAME_MAX], int family, const uint8_t *addr)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	char buf[4];
	if (family == 4) {
		for (int i = 3; i >= 0; i--) {
			snprintf(buf, sizeof(buf), "%u", addr[i]);
			o += put_label(out + o, buf);
		}
		o += put_label(out + o, "in-addr");
	} else {
		for (int i = 15; i >= 0; i--) {
			out[o++] = 1;
			out[o++] = (uint8_t)hex[addr[i] & 0xf];
			out[o++] = 1;
			out[o++] = (uint8_t)hex[addr[i] >> 4];
		}
		o += put_label(out + o, "ip6");
	}
	o += put_label(out + o, "arpa");
	out[o++] = 0;
	return o;
}

/* Parse an address field as Go's net.ParseIP does, after dropping an IPv6 "%zone". */
static int
parse_addr(char *s, uint8_t addr[16])
{
	char *pct = strchr(s, '%');
	if (pct != NULL) {
		*pct = '\0';
	}
	if (inet_pton(AF_INET, s, addr) == 1) {
		return 4;
	}
	if (inet_pton(AF_INET6, s, addr) != 1) {
		return 0;
	}
	if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)addr)) {
		memmove(addr, addr + 12, 4);
		return 4;
	}
	return 6;
}

/* One line: "ADDRESS NAME [ALIAS...]" with an optional "# comment". Others are skipped. */
static int
parse_line(const struct hosts *h, struct hosts_table *t, char *line)
{
	char *hash = strchr(line, '#');
	if (hash != NULL) {
		*hash = '\0';
	}
	char *save = NULL;
	char *tok = strtok_r(line, SPACES, &save);
	if (tok == NULL) {
		return 0;
	}
	uint8_t addr[16];
	int family = parse_addr(tok, addr);
	if (family == 0) {
		return 0;
	}
	uint8_t rname[SX_DNAME_MAX];
	size_t rlen = reverse_name(rname, family, addr);
	while ((tok = strtok_r(NULL, SPACES, &save)) != NULL) {
		uint8_t name[SX_DNAME_MAX];
		int len = sx_dname_from_str(name, tok);
		if (len < 0) {
			continue;
		}
		sx_dname_lower(name, name);
		if (sx_zones_match(&h->zones, name) < 0) {
			continue;
		}
		struct hosts_entry *e;
		bool added;
		int rc = add_addr(t, name, (size_t)len, family, addr, &e, &added);
		if (rc < 0) {
			return rc;
		}
		if (is_wildcard(name)) {
			t->wildcards = true;
		}
		/* A PTR to "*.example.org." would name no host. */
		if (!added || h->no_reverse || is_wildcard(name)) {
			continue;
		}
		rc = add_ptr(t, rname, rlen, e->name);
		if (rc < 0) {
			return rc;
		}
	}
	return 0;
}

static int
parse_file(const struct hosts *h, struct hosts_table *t, FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;
	errno = 0;
	while (getline(&line, &cap, fp) >= 0) {
		rc = parse_line(h, t, line);
		if (rc < 0) {
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		rc = errno != 0 ? -errno : -EIO;
	}
	free(line);
	return rc;
}

static int
parse_inline(const struct hosts *h, struct hosts_table *t)
{
	if (h->inline_text == NULL) {
		return 0;
	}
	char *text = strdup(h->inline_text);
	if (text == NULL) {
		return -ENOMEM;
	}
	int rc = 0;
	char *line = text;
	while (line != NULL && rc == 0) {
		char *nl = strchr(line, '\n');
		if (nl != NULL) {
			*nl = '\0';
		}
		rc = parse_line(h, t, line);
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(text);
	return rc;
}

void
hosts_table_free(struct hosts_table *t)
{
	if (t == NULL) {
		return;
	}
	for (size_t i = 0; t->buckets != NULL && i <= t->mask; i++) {
		struct hosts_entry *e = t->buckets[i];
		while (e != NULL) {
			struct hosts_entry *next = e->next;
			free(e->v4);
			free(e->v6);
			free(e->ptr);
			free(e);
			e = next;
		}
	}
	free(t->buckets);
	free(t);
}

int
hosts_table_build(const struct hosts *h, FILE *fp, struct hosts_table **out)
{
	struct hosts_table *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return -ENOMEM;
	}
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return -ENOMEM;
	}
	t->mask = INITIAL_BUCKETS - 1;
	/* The file's addresses come first, as CoreDNS lists them before the inline ones. */
	int rc = fp != NULL ? parse_file(h, t, fp) : 0;
	if (rc == 0) {
		rc = parse_inline(h, t);
	}
	if (rc < 0) {
		hosts_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}
