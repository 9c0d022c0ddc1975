/* msg.h -- the reply under construction: wire-format writer with name compression. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sextant/wire.h>

/*
 * A reply is built in place in a buffer owned by the worker: header, the
 * question exactly as the client sent it (its case is preserved), then
 * records appended section by section, in order (answer, authority,
 * additional). The core appends the OPT record when the reply is sent, so
 * plugins never write one. Names are compressed against everything written
 * before them, case-insensitively: an owner name equal to the question name
 * is written as a pointer to the question, so answers echo the client's case.
 */

enum sx_section {
	SX_SEC_ANSWER = 0,
	SX_SEC_AUTHORITY = 1,
	SX_SEC_ADDITIONAL = 2
};

/* Header flag bits as in the second 16-bit word of the header. */
#define SX_FLAG_QR 0x8000u
#define SX_FLAG_AA 0x0400u
#define SX_FLAG_TC 0x0200u
#define SX_FLAG_RD 0x0100u
#define SX_FLAG_RA 0x0080u
#define SX_FLAG_AD 0x0020u
#define SX_FLAG_CD 0x0010u

/* Response codes (RFC 1035, 6891); values above 15 need the OPT record. */
enum sx_rcode {
	SX_RCODE_NOERROR = 0,
	SX_RCODE_FORMERR = 1,
	SX_RCODE_SERVFAIL = 2,
	SX_RCODE_NXDOMAIN = 3,
	SX_RCODE_NOTIMP = 4,
	SX_RCODE_REFUSED = 5,
	SX_RCODE_BADVERS = 16,
};

/* Record types the core and plugins name. */
enum sx_rrtype {
	SX_TYPE_A = 1,
	SX_TYPE_NS = 2,
	SX_TYPE_CNAME = 5,
	SX_TYPE_SOA = 6,
	SX_TYPE_PTR = 12,
	SX_TYPE_HINFO = 13,
	SX_TYPE_MX = 15,
	SX_TYPE_TXT = 16,
	SX_TYPE_AAAA = 28,
	SX_TYPE_SRV = 33,
	SX_TYPE_OPT = 41,
	SX_TYPE_DS = 43,
	SX_TYPE_IXFR = 251,
	SX_TYPE_AXFR = 252,
	SX_TYPE_ANY = 255,
};
#define SX_CLASS_IN 1
#define SX_CLASS_CH 3

struct sx_msg {
	uint8_t *wire;  /* owned by the worker */
	size_t len;     /* bytes written so far */
	size_t cap;     /* size of @wire */
	size_t limit;   /* most bytes the reply may take (transport and client buffer) */
	size_t qend;    /* offset just after the question */
	unsigned rcode; /* full rcode; the low 4 bits also live in the header */
	int section;    /* last section written to */
	bool truncated;
	uint16_t ncomp;       /* entries used in @comp */
	uint16_t nqcomp;      /* the first of them: the question name's suffixes, set once */
	uint16_t comp[64];    /* offsets of names written, for compression */
	uint8_t comp_len[64]; /* the wire length of each of those names, expanded */
	uint8_t nopts;        /* EDNS options for the reply's OPT, see sx_msg_add_option() */
	struct sx_msg_opt {
		uint16_t code, len;
		const uint8_t *data;
	} opts[4];
};

/** Set the response code (extended codes go into OPT when the reply is sent). */
void sx_msg_set_rcode(struct sx_msg *msg, unsigned rcode);
unsigned sx_msg_rcode(const struct sx_msg *msg);

/** Set or clear header flag bits (SX_FLAG_*). */
void sx_msg_set_flags(struct sx_msg *msg, uint16_t flags);
void sx_msg_clear_flags(struct sx_msg *msg, uint16_t flags);
uint16_t sx_msg_flags(const struct sx_msg *msg);

/** Records in @sec so far. */
uint16_t sx_msg_count(const struct sx_msg *msg, enum sx_section sec);

/**
 * Append one record. @owner and the names inside @rdata are uncompressed wire
 * names; owner names and the rdata names of NS, CNAME, PTR, MX and SOA are
 * compressed. Sections must be written in order.
 * @return 0; SX_ETRUNC when it does not fit (the message is unchanged and, for
 * the answer and authority sections, the TC flag is set); SX_EINVAL on a
 * section out of order or bad rdata.
 */
int sx_msg_put_rr(struct sx_msg *msg, enum sx_section sec, const uint8_t *owner, uint16_t type,
                  uint16_t rclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);

/**
 * Append one record given whole in wire form (@rr, @len bytes: owner, type, class, TTL,
 * rdlength, rdata), such as a record a plugin keeps ready because it sends it often. Its
 * owner and the rdata names sx_msg_put_rr() compresses may end in a compression pointer,
 * which must point at a name sx_msg_put_rr() would compress against: the question name
 * (offset 12) and each of its suffixes, up to 64 names, or a name an earlier record wrote.
 * The record's names then become such targets, as sx_msg_put_rr() makes them. It is the
 * caller's part to write the record as sx_msg_put_rr() would compress it, if the two are
 * to give the same bytes. Sections must be written in order.
 * @return 0; SX_ETRUNC as sx_msg_put_rr(); SX_EINVAL on a section out of order, a malformed
 * name or rdlength, or a pointer at anything else (the message is unchanged then).
 */
int sx_msg_put_wire_rr(struct sx_msg *msg, enum sx_section sec, const uint8_t *rr, size_t len);

/** Drop every record, keeping header (with rcode NOERROR, no AA/TC) and question. */
void sx_msg_reset(struct sx_msg *msg);

/**
 * Drop the records of the sections after @last (SX_SEC_ANSWER keeps the
 * answer alone), fixing the header counts. Records may be appended after it.
 */
void sx_msg_keep(struct sx_msg *msg, enum sx_section last);

/**
 * Put EDNS option @code (@len bytes of @data, borrowed until the reply is
 * sent) in the reply's OPT record, which is only written when the query had
 * one. Options survive sx_msg_reset() and sx_msg_set_wire(); one code added
 * twice is written twice. At most 4 options.
 * @return 0; SX_ETRUNC when the records written already leave no room for it,
 * or there are 4 options already (nothing is added then).
 */
int sx_msg_add_option(struct sx_msg *msg, uint16_t code, const uint8_t *data, uint16_t len);

/**
 * Replace the reply by a complete DNS message (from an upstream or a cache).
 * The client's ID and question (with its case) are kept; the flags, rcode and
 * records are taken from @wire; an OPT record in @wire is dropped (the core
 * adds its own). If the records do not fit in the limit, TC is set and only
 * the records that fit whole are kept.
 * @return 0, or SX_EMALF if @wire is not a well-formed message.
 */
int sx_msg_set_wire(struct sx_msg *msg, const uint8_t *wire, size_t len);

/**
 * Append record @rr of message @wire (@len bytes, read by sx_rr_walk_next()) to @sec:
 * its owner and the names sx_wire_rdata() expands are expanded, then compressed
 * anew as sx_msg_put_rr() writes them.
 * @return what sx_msg_put_rr() returns, or SX_EMALF when a name does not expand.
 */
int sx_msg_copy_rr(struct sx_msg *msg, enum sx_section sec, const uint8_t *wire, size_t len,
                   const struct sx_rr *rr);

/**
 * A new name for @name (uncompressed): an owner name (@in_rdata false) or a name inside
 * the rdata of a record of type @type (@in_rdata true). Write it into @out and return
 * true, or return false to keep @name. A malformed @out keeps @name.
 */
typedef bool (*sx_rename_fn)(void *arg, uint16_t type, bool in_rdata, const uint8_t *name,
                             uint8_t out[255]);

/**
 * Rename the names of the reply's records through @fn: owner names in every section and
 * the names inside NS, CNAME, DNAME, PTR, MX, SRV and SOA rdata. The records are written
 * anew (compressed again) after the question; header flags, rcode and EDNS options stay.
 * A record that no longer fits is dropped with what follows it, as sx_msg_put_rr() does.
 * @scratch must hold msg->len bytes.
 */
void sx_msg_rename(struct sx_msg *msg, uint8_t *scratch, sx_rename_fn fn, void *arg);

/** Mnemonic of a record type ("AAAA", else "TYPE1234" written into @buf). */
const char *sx_rrtype_name(uint16_t type, char buf[16]);
/** Record type named @name ("AAAA", "TYPE65534"; upper case as written). @return it, or -1. */
int sx_rrtype_from_name(const char *name);
/** Mnemonic of a class ("IN", else "CLASS7" written into @buf). */
const char *sx_class_name(uint16_t rclass, char buf[16]);
/** Mnemonic of an rcode ("NXDOMAIN", else "RCODE12" written into @buf). */
const char *sx_rcode_name(unsigned rcode, char buf[16]);
