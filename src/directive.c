/* directive.c -- placeholder until written. */
typedef int sx_placeholder_directive;
