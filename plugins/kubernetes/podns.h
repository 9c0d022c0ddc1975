/* podns.h -- pod address -> namespace, the index `autopath @kubernetes` reads. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "objects.h"

/*
 * Only what autopath needs of a Pod: its address and its namespace, 8 bytes
 * an IPv4 pod and 20 an IPv6 one, in sorted arrays that workers search
 * without locks. No Pod object is kept (`pods verified` keeps them; this
 * does not need it). A change copies the arrays into a new snapshot, which
 * is published with rcu_assign_pointer(); the old one is freed after a grace
 * period. A (re)list builds one snapshot at its end.
 *
 * Without the Pod objects an event is applied by address: a running pod
 * sets its address to its namespace, a pod that is gone or done removes its
 * address only if the entry is still its own (same namespace and same
 * 16-bit tag of its name), so the late deletion of a pod whose address was
 * already given to another does not remove the new one.
 */
struct k8s_podns;

/** @return 0 and an empty index, or -ENOMEM. */
int k8s_podns_new(struct k8s_podns **out);
/** Free the index; no reader may still use it. NULL is a no-op. */
void k8s_podns_free(struct k8s_podns *ix);

/** A 16-bit tag of a pod's name (its namespace and name, hashed). */
uint16_t k8s_podns_tag(const char *ns, size_t ns_len, const char *name, size_t len);

/** Pod at @ip runs in namespace @ns. Control thread. @return 0 or -ENOMEM. */
int k8s_podns_set(struct k8s_podns *ix, const struct k8s_ip *ip, const char *ns, size_t ns_len,
                  uint16_t tag);
/** The pod @tag of namespace @ns at @ip is gone or done. Control thread. @return 0 or -ENOMEM. */
int k8s_podns_del(struct k8s_podns *ix, const struct k8s_ip *ip, const char *ns, size_t ns_len,
                  uint16_t tag);

/** A full list begins: until its end, k8s_podns_set() gathers a new index. */
void k8s_podns_relist_begin(struct k8s_podns *ix);
/** ... and ends: what it gathered replaces the index. @return 0 or -ENOMEM (old one kept). */
int k8s_podns_relist_end(struct k8s_podns *ix);

/**
 * The namespace of the pod at @ip (*@len bytes, no NUL), or NULL. Workers,
 * inside rcu_read_lock(); the name is valid until rcu_read_unlock().
 */
const char *k8s_podns_lookup(const struct k8s_podns *ix, const struct k8s_ip *ip, size_t *len);

/** Pods indexed, and the bytes the published index takes (arrays and namespace names). */
size_t k8s_podns_count(const struct k8s_podns *ix);
size_t k8s_podns_bytes(const struct k8s_podns *ix);
