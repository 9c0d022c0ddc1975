/* test_rrtype.c -- mnemonics of record types, classes and rcodes, and their TYPEnnn fallbacks. */
#include <criterion/criterion.h>
#include <string.h>

#include <sextant/msg.h>

Test(rrtype, known_types_have_their_mnemonic)
{
	static const struct {
		uint16_t type;
		const char *name;
	} known[] = {
		{ SX_TYPE_A, "A" }, { 2, "NS" },    { 5, "CNAME" }, { 6, "SOA" },
		{ 12, "PTR" },      { 15, "MX" },   { 16, "TXT" },  { 28, "AAAA" },
		{ 33, "SRV" },      { 41, "OPT" },  { 43, "DS" },   { 65, "HTTPS" },
		{ 252, "AXFR" },    { 255, "ANY" }, { 257, "CAA" },
	};
	char buf[16];

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const char *name = sx_rrtype_name(known[i].type, buf);

		cr_assert_str_eq(name, known[i].name, "type %u", known[i].type);
		/* A static string: the caller's buffer is left alone. */
		cr_assert_neq(name, buf, "type %u", known[i].type);
		cr_assert_eq(sx_rrtype_from_name(known[i].name), known[i].type, "%s",
		             known[i].name);
	}
}

Test(rrtype, unknown_types_are_written_as_TYPEnnn)
{
	char buf[16];

	/* 0, holes in the table, one past its end, and the largest. */
	cr_assert_str_eq(sx_rrtype_name(0, buf), "TYPE0");
	cr_assert_str_eq(sx_rrtype_name(3, buf), "TYPE3");
	cr_assert_str_eq(sx_rrtype_name(256, buf), "TYPE256");
	cr_assert_str_eq(sx_rrtype_name(258, buf), "TYPE258");
	cr_assert_str_eq(sx_rrtype_name(65535, buf), "TYPE65535");
	cr_assert_eq(sx_rrtype_name(65534, buf), buf);
}

Test(rrtype, names_parse_back, .description = "RFC 3597 TYPEnnn and the mnemonics, upper case only")
{
	cr_assert_eq(sx_rrtype_from_name("TYPE65534"), 65534);
	cr_assert_eq(sx_rrtype_from_name("TYPE0"), 0);
	cr_assert_eq(sx_rrtype_from_name("TYPE1"), 1);
	cr_assert_eq(sx_rrtype_from_name("TYPE65535"), 65535);
	cr_assert_eq(sx_rrtype_from_name("TYPE65536"), -1);
	cr_assert_eq(sx_rrtype_from_name("TYPE"), -1);
	cr_assert_eq(sx_rrtype_from_name("TYPE12x"), -1);
	cr_assert_eq(sx_rrtype_from_name("TYPE-1"), -1);
	cr_assert_eq(sx_rrtype_from_name("TYPE 1"), -1);
	cr_assert_eq(sx_rrtype_from_name("aaaa"), -1);
	cr_assert_eq(sx_rrtype_from_name("WKS"), -1);
	cr_assert_eq(sx_rrtype_from_name(""), -1);
	cr_assert_eq(sx_rrtype_from_name("AAAA"), 28);
	cr_assert_eq(sx_rrtype_from_name("HTTPS"), 65);
	cr_assert_eq(sx_rrtype_from_name("NOPE"), -1);
	char buf[16];
	cr_assert_eq(sx_rrtype_from_name(sx_rrtype_name(4321, buf)), 4321);
}

Test(rrtype, classes)
{
	char buf[16];

	cr_assert_str_eq(sx_class_name(SX_CLASS_IN, buf), "IN");
	cr_assert_str_eq(sx_class_name(3, buf), "CH");
	cr_assert_str_eq(sx_class_name(4, buf), "HS");
	cr_assert_str_eq(sx_class_name(254, buf), "NONE");
	cr_assert_str_eq(sx_class_name(255, buf), "ANY");
	cr_assert_str_eq(sx_class_name(0, buf), "CLASS0");
	cr_assert_str_eq(sx_class_name(2, buf), "CLASS2");
	cr_assert_str_eq(sx_class_name(65535, buf), "CLASS65535");
	cr_assert_eq(sx_class_name(7, buf), buf);
}

Test(rrtype, rcodes)
{
	char buf[16];

	cr_assert_str_eq(sx_rcode_name(SX_RCODE_NOERROR, buf), "NOERROR");
	cr_assert_str_eq(sx_rcode_name(SX_RCODE_FORMERR, buf), "FORMERR");
	cr_assert_str_eq(sx_rcode_name(SX_RCODE_SERVFAIL, buf), "SERVFAIL");
	cr_assert_str_eq(sx_rcode_name(3, buf), "NXDOMAIN");
	cr_assert_str_eq(sx_rcode_name(SX_RCODE_NOTIMP, buf), "NOTIMP");
	cr_assert_str_eq(sx_rcode_name(SX_RCODE_REFUSED, buf), "REFUSED");
	cr_assert_str_eq(sx_rcode_name(10, buf), "NOTZONE");
	cr_assert_str_eq(sx_rcode_name(SX_RCODE_BADVERS, buf), "BADVERS");
	/* The unassigned ones between NOTZONE and BADVERS, and past BADVERS. */
	cr_assert_str_eq(sx_rcode_name(11, buf), "RCODE11");
	cr_assert_str_eq(sx_rcode_name(15, buf), "RCODE15");
	cr_assert_str_eq(sx_rcode_name(17, buf), "RCODE17");
	cr_assert_str_eq(sx_rcode_name(4095, buf), "RCODE4095");
	cr_assert_eq(sx_rcode_name(12, buf), buf);
}
