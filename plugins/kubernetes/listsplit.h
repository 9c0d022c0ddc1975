/* listsplit.h -- cut a LIST response into its items as its bytes arrive. */
#pragma once

#include <stddef.h>

/*
 * A LIST of 100,000 objects is 50-100 MB of JSON; parsed whole it becomes a
 * tree of a gigabyte. The splitter follows the document's structure byte by
 * byte (strings, nesting, the keys it cares about) without building anything,
 * hands over each element of the top-level "items" array as soon as its last
 * byte is in, and keeps the rest of the document (kind, metadata with the
 * resourceVersion and continue token) with "items" emptied. Each item is then
 * parsed alone and dropped. Each item's metadata.managedFields is cut out on
 * the way: the API server's bookkeeping, often half of an object's bytes, and
 * nothing a DNS server reads.
 *
 * The splitter only finds boundaries; it does not validate. Whatever is not
 * JSON fails when an item or the rest is parsed.
 */

struct k8s_split;

/**
 * One element of "items": a JSON object, @len bytes, not NUL-terminated,
 * valid until the hook returns. @return 0 to go on; anything else stops the
 * splitter and is returned by k8s_split_feed().
 */
typedef int (*k8s_split_item_fn)(void *arg, const char *json, size_t len);

/**
 * The document's head, once, when its "items" array opens: everything before
 * the items, closed as if the list were empty ("items":[]}), NUL-terminated,
 * @len bytes, valid until the hook returns. A server that writes the metadata
 * first (as kube-apiserver does) tells the continue token here, before the
 * page's items. @return as k8s_split_item_fn, or K8S_SPLIT_PAUSE.
 */
typedef int (*k8s_split_head_fn)(void *arg, const char *json, size_t len);

/*
 * From the head hook: stop feeding right after the head. k8s_split_feed()
 * returns it, having taken k8s_split_taken() bytes; the others are fed later.
 */
#define K8S_SPLIT_PAUSE 1

/**
 * @param max_item items longer than this fail with -EMSGSIZE.
 * @param head may be NULL.
 * @return 0 and a new splitter in *@out, or -ENOMEM.
 */
int k8s_split_new(struct k8s_split **out, size_t max_item, k8s_split_item_fn item,
                  k8s_split_head_fn head, void *arg);

/** NULL is a no-op. */
void k8s_split_free(struct k8s_split *sp);

/**
 * The next @len bytes of the body, in any cut.
 * @return 0; -EMSGSIZE (an item, or the rest, too long); -EPROTO (not a
 * list: see k8s_split_error()); -ENOMEM; K8S_SPLIT_PAUSE; or the item or
 * head hook's return value.
 * After an error the splitter takes no more bytes.
 */
int k8s_split_feed(struct k8s_split *sp, const char *p, size_t len);

/** After k8s_split_feed() returned K8S_SPLIT_PAUSE: the bytes of its input it took. */
size_t k8s_split_taken(const struct k8s_split *sp);

/**
 * The body has ended. @return 0 and the document without its items
 * ("items":[]), NUL-terminated, owned by the splitter, in *@rest; or -EPROTO
 * when the document is cut short (see k8s_split_error()).
 */
int k8s_split_end(struct k8s_split *sp, char **rest, size_t *len);

/** Why the last call failed with -EPROTO or -EMSGSIZE. */
const char *k8s_split_error(const struct k8s_split *sp);
