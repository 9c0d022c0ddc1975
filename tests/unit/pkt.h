/* pkt.h -- DNS messages assembled byte by byte for the msg_reader and msg_writer tests, so
 * that malformed ones are as easy to write as good ones. */
#ifndef SX_TEST_PKT_H
#define SX_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sextant/msg.h>

#include "msg_reader.h"

struct pkt {
	uint8_t b[2048];
	size_t n;
};

void p8(struct pkt *p, uint8_t v);
void p16(struct pkt *p, uint16_t v);
void p32(struct pkt *p, uint32_t v);
void pname(struct pkt *p, const char *name);
void phdr(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
          uint16_t ar);
void pquestion(struct pkt *p, const char *name, uint16_t type);
/* OPT with payload @size, version @ver, DO @dnssec and no options. */
void popt(struct pkt *p, uint16_t size, uint8_t ver, bool dnssec);
/* The usual query: one question, @ar additional records follow (added by the caller). */
void query(struct pkt *p, const char *name, uint16_t ar);
/* sx_wire_parse_query() on @p, with @q filled with garbage first. */
enum sx_parse parse(const struct pkt *p, struct sx_query *q, uint8_t *lname);

/*
 * A reply to "example.org. A" as an upstream might compress it: at 12 the question;
 * then two answers owned by a pointer to it (A, CNAME to "www" + pointer), an SOA of
 * "org." (a pointer into the question) with both names compressed, and an OPT.
 */
struct reply {
	struct pkt p;
	size_t cname_rdata, soa_rdata;
};

void compressed_reply(struct reply *r);

#endif
