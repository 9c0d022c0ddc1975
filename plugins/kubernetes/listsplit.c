/* listsplit.c -- cut a LIST response into its items as its bytes arrive. */
#include "listsplit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Depths, counting the containers open around a byte: the document's object
 * is 1, the items array 2, an item 3, the item's metadata 4. Only keys at
 * depths 1 ("items"), 3 ("metadata") and 4 ("managedFields") matter.
 */
#define D_ITEMS 2
#define D_ITEM  3
#define D_META  4

#define MAX_DEPTH 256        /* jansson allows 2048; API objects nest about 15 deep */
#define MAX_REST  (1u << 20) /* kind, apiVersion, metadata: a few hundred bytes */
#define KEY_MAX   16         /* longest key compared, plus one */

struct buf {
	char *p;
	size_t len, cap;
};

struct k8s_split {
	k8s_split_item_fn item;
	k8s_split_head_fn head;
	void *arg;
	size_t max_item;
	size_t taken; /* by the feed that paused */
	int err;
	char why[128];

	/* The lexer. */
	uint32_t depth;
	bool in_str, esc;
	bool str_is_key;
	uint8_t is_obj[MAX_DEPTH + 1]; /* per depth: an object (else an array) */
	bool expect_key;               /* in an object, the next string is a key */
	char key[KEY_MAX];
	size_t key_len;

	/* Where the structure stands. */
	bool items_key; /* the last key at depth 1 was "items" */
	bool in_items;  /* the array at depth 2 is "items" */
	bool meta_key;  /* the last key at depth 3 was "metadata" */
	bool in_meta;   /* the object at depth 4 is an item's metadata */

	/* The item being cut, and the rest of the document. */
	bool in_item;
	struct buf cur, rest;
	/* Dropping a member of the metadata: from @cut (an offset in the item, where
	 * the member and the comma before it begin) to the end of its value. */
	size_t cut;
	bool first;    /* the member has no comma before it: drop the one after */
	bool skipping; /* inside the dropped value */
};

int
k8s_split_new(struct k8s_split **out, size_t max_item, k8s_split_item_fn item,
              k8s_split_head_fn head, void *arg)
{
	struct k8s_split *sp = calloc(1, sizeof(*sp));

	*out = sp;
	if (sp == NULL) {
		return -ENOMEM;
	}
	sp->item = item;
	sp->head = head;
	sp->arg = arg;
	sp->max_item = max_item;
	return 0;
}

void
k8s_split_free(struct k8s_split *sp)
{
	if (sp != NULL) {
		free(sp->cur.p);
		free(sp->rest.p);
		free(sp);
	}
}

const char *
k8s_split_error(const struct k8s_split *sp)
{
	return sp->why;
}

static int
fail(struct k8s_split *sp, int err, const char *why)
{
	snprintf(sp->why, sizeof(sp->why), "%s", why);
	sp->err = err;
	return err;
}

static int
append(struct k8s_split *sp, struct buf *b, const char *p, size_t n, size_t max)
{
	if (b->len + n > max) {
		return fail(sp, -EMSGSIZE, b == &sp->cur ? "an item is too long" : "not a list");
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;

		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		if ((np = realloc(b->p, cap)) == NULL) {
			return fail(sp, -ENOMEM, "out of memory");
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* A key has ended. @return whether it starts a member to drop. */
static bool
key_done(struct k8s_split *sp)
{
	bool drop = false;

#define KEY_IS(s) (sp->key_len == sizeof(s) - 1 && memcmp(sp->key, s, sizeof(s) - 1) == 0)
	switch (sp->depth) {
	case 1:
		sp->items_key = KEY_IS("items");
		break;
	case D_ITEM:
		sp->meta_key = KEY_IS("metadata");
		break;
	case D_META:
		drop = KEY_IS("managedFields");
		break;
	}
#undef KEY_IS
	return drop;
}

/* The rest ends with the items' '[': hand it over closed, then take the closing back. */
static int
head_done(struct k8s_split *sp)
{
	int r;

	if ((r = append(sp, &sp->rest, "]}", 2, MAX_REST + 2))) {
		return r;
	}
	sp->rest.p[sp->rest.len] = '\0';
	r = sp->head(sp->arg, sp->rest.p, sp->rest.len);
	sp->rest.len -= 2;
	return r && r != K8S_SPLIT_PAUSE ? fail(sp, r, "stopped") : r;
}

size_t
k8s_split_taken(const struct k8s_split *sp)
{
	return sp->taken;
}

int
k8s_split_feed(struct k8s_split *sp, const char *p, size_t len)
{
	size_t i = 0, item_from = 0, rest_from = 0;
	bool in_rest;
	int r;

	if (sp->err) {
		return sp->err;
	}
	in_rest = !sp->in_items;
	for (; i < len; i++) {
		char c = p[i];

		if (sp->in_str) {
			/* Most bytes are inside strings: run through them. */
			while (!sp->esc && c != '"' && c != '\\') {
				if (sp->str_is_key && sp->key_len < KEY_MAX) {
					sp->key[sp->key_len++] = c;
				}
				if (++i == len) {
					goto out;
				}
				c = p[i];
			}
			if (sp->esc) {
				sp->esc = false;
				sp->key_len = KEY_MAX; /* an escaped key is none we look for */
			} else if (c == '\\') {
				sp->esc = true;
			} else {
				sp->in_str = false;
				if (sp->str_is_key && (sp->depth != D_META || sp->in_meta) &&
				    key_done(sp)) {
					/* Take the item up to here, then forget the member. */
					sp->skipping = true;
					if ((r = append(sp, &sp->cur, p + item_from, i - item_from,
					                sp->max_item))) {
						return r;
					}
					sp->cur.len = sp->cut;
					item_from = i + 1;
				}
			}
			continue;
		}
		if (sp->in_items && sp->depth == D_ITEMS && c != '{' && c != ',' && c != ']' &&
		    c != ' ' && c != '\n' && c != '\t' && c != '\r') {
			return fail(sp, -EPROTO, "an item is not an object");
		}
		switch (c) {
		case '"':
			sp->in_str = true;
			sp->str_is_key = sp->expect_key;
			sp->key_len = 0;
			break;
		case ':':
			sp->expect_key = false;
			break;
		case ',':
			if (sp->depth == D_META && sp->in_meta) {
				if (sp->skipping) {
					/* The dropped value ends here. */
					sp->skipping = false;
					item_from = sp->first ? i + 1 : i;
					if (sp->first) {
						sp->cut = sp->cur.len;
						sp->expect_key = true;
						break;
					}
				}
				sp->cut = sp->cur.len + (i - item_from);
				sp->first = false;
			}
			sp->expect_key = sp->is_obj[sp->depth];
			break;
		case '{':
		case '[':
			if (sp->depth == MAX_DEPTH) {
				return fail(sp, -EPROTO, "nested too deep");
			}
			if (sp->in_items && sp->depth == D_ITEMS) {
				sp->in_item = true;
				sp->cur.len = 0;
				item_from = i;
			}
			sp->depth++;
			sp->is_obj[sp->depth] = c == '{';
			sp->expect_key = c == '{';
			if (sp->depth == D_META) {
				sp->in_meta = sp->in_item && sp->meta_key && c == '{';
				sp->meta_key = false;
				if (sp->in_meta) {
					sp->cut = sp->cur.len + (i + 1 - item_from);
					sp->first = true;
				}
			} else if (sp->depth == D_ITEMS && sp->items_key && c == '[') {
				/* Everything up to the '[' belongs to the rest; the items do not. */
				if ((r = append(sp, &sp->rest, p + rest_from, i + 1 - rest_from,
				                MAX_REST))) {
					return r;
				}
				sp->in_items = true;
				in_rest = false;
				if (sp->head && (r = head_done(sp))) {
					/* Nothing of this input is left to keep: its rest went up to here. */
					sp->taken = i + 1;
					return r;
				}
			}
			break;
		case '}':
		case ']':
			if (sp->depth == 0 || sp->is_obj[sp->depth] != (c == '}')) {
				return fail(sp, -EPROTO, "unbalanced brackets");
			}
			if (sp->depth == D_META && sp->skipping) {
				sp->skipping = false;
				item_from = i;
			}
			if (sp->depth == D_META) {
				sp->in_meta = false;
			}
			sp->depth--;
			sp->expect_key = false;
			if (sp->in_item && sp->depth == D_ITEMS) {
				/* The item's last byte: hand it over, from the input if it is all there. */
				const char *json = p + item_from;
				size_t n = i + 1 - item_from;

				sp->in_item = false;
				if (sp->cur.len) {
					if ((r = append(sp, &sp->cur, json, n, sp->max_item))) {
						return r;
					}
					json = sp->cur.p;
					n = sp->cur.len;
				} else if (n > sp->max_item) {
					return fail(sp, -EMSGSIZE, "an item is too long");
				}
				if ((r = sp->item(sp->arg, json, n))) {
					return fail(sp, r, "stopped");
				}
			} else if (sp->in_items && sp->depth == 1) {
				sp->in_items = false;
				in_rest = true;
				rest_from = i;
			}
			break;
		default:
			break;
		}
	}
out:
	/* What is left of this input belongs to the item being cut, or to the rest. */
	if (sp->in_item && !sp->skipping && item_from < len) {
		if ((r = append(sp, &sp->cur, p + item_from, len - item_from, sp->max_item))) {
			return r;
		}
	}
	if (in_rest && rest_from < len) {
		if ((r = append(sp, &sp->rest, p + rest_from, len - rest_from, MAX_REST))) {
			return r;
		}
	}
	return 0;
}

int
k8s_split_end(struct k8s_split *sp, char **rest, size_t *len)
{
	*rest = NULL;
	*len = 0;
	if (sp->err) {
		return sp->err;
	}
	if (sp->depth != 0 || sp->in_str) {
		return fail(sp, -EPROTO, "the document is cut short");
	}
	if (append(sp, &sp->rest, "", 0, MAX_REST)) {
		return sp->err;
	}
	sp->rest.p[sp->rest.len] = '\0';
	*rest = sp->rest.p;
	*len = sp->rest.len;
	return 0;
}
