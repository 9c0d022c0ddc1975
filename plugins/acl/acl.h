/* acl.h -- the acl plugin's rules and address sets (private). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sextant/plugin.h>

/* A set of addresses: disjoint, sorted ranges of 16-byte addresses (IPv4 as ::ffff:a.b.c.d). */
struct acl_range {
	uint8_t lo[16], hi[16];
};
struct acl_nets {
	struct acl_range *r;
	size_t n, cap;
};

/** Add @text ("10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "*"). @return 0, SX_EINVAL, -ENOMEM. */
int acl_nets_add(struct acl_nets *s, const char *text);
/** Sort and merge; call once after the last add. */
void acl_nets_seal(struct acl_nets *s);
/** Whether @sa (AF_INET or AF_INET6) lies in the set. */
bool acl_nets_has(const struct acl_nets *s, const struct sockaddr_storage *sa);
void acl_nets_fini(struct acl_nets *s);

enum acl_action {
	ACL_NONE,
	ACL_ALLOW,
	ACL_BLOCK,  /* REFUSED, EDE 15 (Blocked) */
	ACL_FILTER, /* NOERROR with no records, EDE 17 (Filtered) */
	ACL_DROP,   /* no reply at all */
};

/* One line of the block: ACTION [type QTYPE...] [net SOURCE...] [file FILE...]. */
struct acl_policy {
	enum acl_action action;
	bool all_types;
	uint16_t *types; /* sorted */
	size_t ntypes;
	struct acl_nets nets;
};

/* Counters of one acl directive: blocked, filtered, dropped per zone, then allowed. */
enum {
	ACL_C_BLOCKED,
	ACL_C_FILTERED,
	ACL_C_DROPPED,
	ACL_C_PER_ZONE
};

/*
 * One acl directive. CoreDNS reads every acl line of a server block into one
 * handler whose first "allow" ends the checks; here the first acl instance
 * of a block (the head) evaluates its own rules and those of the acl
 * instances after it in the same block, which then pass queries on.
 */
struct acl {
	struct sx_zones zones;
	struct acl_policy *pol;
	size_t npol;
	struct acl *head;   /* NULL: this is the head */
	struct acl **rules; /* head only: every instance of the block, itself first */
	size_t nrules;
	uint16_t port;         /* the block's, as configured */
	char server[32];       /* metrics label: dns://:PORT */
	struct sx_wcounters c; /* ACL_C_PER_ZONE per zone, then allowed */
};
