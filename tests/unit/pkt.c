/* pkt.c -- DNS messages assembled byte by byte (see pkt.h). */
#include <criterion/criterion.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/wire.h>

#include "pkt.h"

void
p8(struct pkt *p, uint8_t v)
{
	p->b[p->n++] = v;
}

void
p16(struct pkt *p, uint16_t v)
{
	p8(p, (uint8_t)(v >> 8));
	p8(p, (uint8_t)v);
}

void
p32(struct pkt *p, uint32_t v)
{
	p16(p, (uint16_t)(v >> 16));
	p16(p, (uint16_t)v);
}

void
pname(struct pkt *p, const char *name)
{
	int n = sx_dname_from_str(p->b + p->n, name);
	cr_assert_gt(n, 0);
	p->n += (size_t)n;
}

void
phdr(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	p->n = 0;
	p16(p, id);
	p16(p, flags);
	p16(p, qd);
	p16(p, an);
	p16(p, ns);
	p16(p, ar);
}

void
pquestion(struct pkt *p, const char *name, uint16_t type)
{
	pname(p, name);
	p16(p, type);
	p16(p, SX_CLASS_IN);
}

void
popt(struct pkt *p, uint16_t size, uint8_t ver, bool dnssec)
{
	p8(p, 0);
	p16(p, SX_TYPE_OPT);
	p16(p, size);
	p32(p, (uint32_t)ver << 16 | (dnssec ? 0x8000u : 0));
	p16(p, 0);
}

void
query(struct pkt *p, const char *name, uint16_t ar)
{
	phdr(p, 0xBEEF, SX_FLAG_RD, 1, 0, 0, ar);
	pquestion(p, name, SX_TYPE_A);
}

enum sx_parse
parse(const struct pkt *p, struct sx_query *q, uint8_t *lname)
{
	memset(q, 0x5A, sizeof(*q));
	return sx_wire_parse_query(p->b, p->n, q, lname);
}
void
compressed_reply(struct reply *r)
{
	struct pkt *p = &r->p;
	phdr(p, 1, SX_FLAG_QR, 1, 2, 1, 1);
	pquestion(p, "example.org", SX_TYPE_A);
	p16(p, 0xC00C);
	p16(p, SX_TYPE_A);
	p16(p, SX_CLASS_IN);
	p32(p, 300);
	p16(p, 4);
	p32(p, 0xC0000201);
	p16(p, 0xC00C);
	p16(p, SX_TYPE_CNAME);
	p16(p, SX_CLASS_IN);
	p32(p, 60);
	p16(p, 6);
	r->cname_rdata = p->n;
	p8(p, 3);
	memcpy(p->b + p->n, "www", 3);
	p->n += 3;
	p16(p, 0xC00C);
	p16(p, 0xC000 | 20); /* "org." inside the question */
	p16(p, SX_TYPE_SOA);
	p16(p, SX_CLASS_IN);
	p32(p, 900);
	p16(p, 2 + 5 + 2 + 20);
	r->soa_rdata = p->n;
	p16(p, 0xC00C);
	p8(p, 4);
	memcpy(p->b + p->n, "host", 4);
	p->n += 4;
	p16(p, 0xC00C);
	for (uint32_t v = 1; v <= 5; v++) {
		p32(p, v);
	}
	popt(p, 1232, 0, false);
}
