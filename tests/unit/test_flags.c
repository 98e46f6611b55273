/* SPDX-License-Identifier: MIT */
/*
 * Go flag / time.ParseDuration / Duration.String() compatibility. Every
 * expected value below was produced by Go 1.19.8 (flag.FlagSet with
 * ContinueOnError; "n" is len(args) - len(fs.Args())), except where a
 * comment says Vela deliberately differs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flags.h"
#include "status.h"

#define SEC 1000000000LL
#define HOUR (3600 * SEC)
#define YEAR (8760 * HOUR)
#define MAX_ARGS 8

struct opts {
	const char *name;
	const char *o;
	bool json;
	bool v;
	int64_t duration;
};

static const struct vl_flag opt_flags[] = {
	{ "name", VL_FLAG_STRING, offsetof(struct opts, name), "a name" },
	{ "o", VL_FLAG_STRING, offsetof(struct opts, o), "output" },
	{ "json", VL_FLAG_BOOL, offsetof(struct opts, json), "json" },
	{ "v", VL_FLAG_BOOL, offsetof(struct opts, v), "verbose" },
	{ "duration", VL_FLAG_DURATION, offsetof(struct opts, duration),
	  "how long" },
};

#define N_OPT_FLAGS (sizeof(opt_flags) / sizeof(opt_flags[0]))

static const struct opts opt_defaults = {
	.name = "def",
	.o = NULL,
	.json = false,
	.v = true,
	.duration = YEAR,
};

struct parse_case {
	const char *args[MAX_ARGS]; /* NULL-terminated */
	int ret;
	int n_used;
	const char *msg; /* for errors */
	struct opts want; /* for success */
};

/* Success after @n arguments, leaving the options as given. */
#define OK(n, name, o, json, v, d) \
	.ret = 0, .n_used = (n), .want = { (name), (o), (json), (v), (d) }

/* Failure after @n arguments with message @m. */
#define ERR(n, m) .ret = -EINVAL, .n_used = (n), .msg = (m)

/* Help asked for after @n arguments. */
#define HELP(n) .ret = VL_FLAGS_HELP, .n_used = (n)

static void join(char *buf, size_t len, const char *const *args)
{
	size_t pos = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; args[i] && pos < len; i++)
		pos += (size_t)snprintf(buf + pos, len - pos, "%s[%s]",
					i ? " " : "", args[i]);
}

static void check_str(const char *what, const char *got, const char *want)
{
	if (!got || !want) {
		if (got != want)
			fail_msg("%s: got %s, want %s", what,
				 got ? got : "NULL", want ? want : "NULL");
		return;
	}
	if (strcmp(got, want))
		fail_msg("%s: got \"%s\", want \"%s\"", what, got, want);
}

static void run_case(const struct parse_case *c)
{
	char *argv[MAX_ARGS] = { NULL };
	struct vl_status st = { "" };
	struct opts o = opt_defaults;
	char what[512];
	int argc = 0, n_used = -1, ret, i;

	join(what, sizeof(what), c->args);
	for (argc = 0; c->args[argc]; argc++) {
		argv[argc] = strdup(c->args[argc]);
		assert_non_null(argv[argc]);
	}

	ret = vl_flags_parse(opt_flags, N_OPT_FLAGS, &o, argc, argv, &n_used,
			     &st);
	if (ret != c->ret || n_used != c->n_used)
		fail_msg("%s: ret %d n_used %d, want ret %d n_used %d (%s)",
			 what, ret, n_used, c->ret, c->n_used, st.msg);
	if (ret < 0) {
		check_str(what, st.msg, c->msg);
	} else if (ret == 0) {
		check_str(what, st.msg, "");
		check_str(what, o.name, c->want.name);
		check_str(what, o.o, c->want.o);
		if (o.json != c->want.json || o.v != c->want.v ||
		    o.duration != c->want.duration)
			fail_msg(
				"%s: json %d v %d duration %lld, want %d %d %lld",
				what, o.json, o.v, (long long)o.duration,
				c->want.json, c->want.v,
				(long long)c->want.duration);
	}

	for (i = 0; i < argc; i++)
		free(argv[i]);
}

#define RUN(cases)                                                        \
	do {                                                              \
		size_t i_;                                                \
		for (i_ = 0; i_ < sizeof(cases) / sizeof(cases[0]); i_++) \
			run_case(&cases[i_]);                             \
	} while (0)

static void test_flags_syntax_forms(void **state)
{
	static const struct parse_case cases[] = {
		{ { "-name", "x" }, OK(2, "x", NULL, false, true, YEAR) },
		{ { "-name=x" }, OK(1, "x", NULL, false, true, YEAR) },
		{ { "--name", "x" }, OK(2, "x", NULL, false, true, YEAR) },
		{ { "--name=x" }, OK(1, "x", NULL, false, true, YEAR) },
		{ { "-name=" }, OK(1, "", NULL, false, true, YEAR) },
		{ { "-name=a=b" }, OK(1, "a=b", NULL, false, true, YEAR) },
		/* A non-bool flag takes the next argument, whatever it is. */
		{ { "-name", "-x" }, OK(2, "-x", NULL, false, true, YEAR) },
		{ { "-name", "--" }, OK(2, "--", NULL, false, true, YEAR) },
		{ { "-name", "" }, OK(2, "", NULL, false, true, YEAR) },
		{ { "-o", "v", "rest" }, OK(2, "def", "v", false, true, YEAR) },
		{ { "-o=v" }, OK(1, "def", "v", false, true, YEAR) },
		{ { "--duration", "1h" },
		  OK(2, "def", NULL, false, true, HOUR) },
		{ { "-duration=1.5h" },
		  OK(1, "def", NULL, false, true, 3 * HOUR / 2) },
		{ { "--duration=90m", "a" },
		  OK(1, "def", NULL, false, true, 3 * HOUR / 2) },
		{ { "-name", "n", "--o=p", "-json", "--duration", "2s", "x" },
		  OK(6, "n", "p", true, true, 2 * SEC) },
	};

	(void)state;
	RUN(cases);
}

static void test_flags_stop_conditions(void **state)
{
	static const struct parse_case cases[] = {
		{ { NULL }, OK(0, "def", NULL, false, true, YEAR) },
		{ { "rest", "-json" }, OK(0, "def", NULL, false, true, YEAR) },
		/* A lone "-" is an argument (stdin): not consumed. */
		{ { "-", "-json" }, OK(0, "def", NULL, false, true, YEAR) },
		/* "--" is consumed. */
		{ { "--", "-json" }, OK(1, "def", NULL, false, true, YEAR) },
		{ { "", "-json" }, OK(0, "def", NULL, false, true, YEAR) },
		{ { "-json", "--", "x" },
		  OK(2, "def", NULL, true, true, YEAR) },
		{ { "-json", "-", "x" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json", "", "-v=false" },
		  OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json", "rest", "-v=false" },
		  OK(1, "def", NULL, true, true, YEAR) },
	};

	(void)state;
	RUN(cases);
}

static void test_flags_stop_at_argc(void **state)
{
	char a0[] = "-json", a1[] = "-v=false";
	char *argv[] = { a0, a1, NULL };
	struct opts o = opt_defaults;
	struct vl_status st = { "" };
	int n_used = -1;

	(void)state;
	/* Only argc arguments are looked at. */
	assert_int_equal(vl_flags_parse(opt_flags, N_OPT_FLAGS, &o, 1, argv,
					&n_used, &st),
			 0);
	assert_int_equal(n_used, 1);
	assert_true(o.json);
	assert_true(o.v);

	n_used = -1;
	assert_int_equal(vl_flags_parse(opt_flags, N_OPT_FLAGS, &o, 0, argv,
					&n_used, &st),
			 0);
	assert_int_equal(n_used, 0);
}

static void test_flags_bad_syntax(void **state)
{
	static const struct parse_case cases[] = {
		{ { "---x" }, ERR(0, "bad flag syntax: ---x") },
		{ { "-=x" }, ERR(0, "bad flag syntax: -=x") },
		{ { "--=x" }, ERR(0, "bad flag syntax: --=x") },
		{ { "---" }, ERR(0, "bad flag syntax: ---") },
		{ { "-=", "x" }, ERR(0, "bad flag syntax: -=") },
		{ { "-json", "---name" }, ERR(1, "bad flag syntax: ---name") },
	};

	(void)state;
	RUN(cases);
}

static void test_flags_unknown_flag(void **state)
{
	static const struct parse_case cases[] = {
		{ { "-x" }, ERR(1, "flag provided but not defined: -x") },
		{ { "--x" }, ERR(1, "flag provided but not defined: -x") },
		{ { "-x=1" }, ERR(1, "flag provided but not defined: -x") },
		{ { "--nope=value" },
		  ERR(1, "flag provided but not defined: -nope") },
		{ { "-json", "-nope" },
		  ERR(2, "flag provided but not defined: -nope") },
		/* The name is printed with %s, not quoted. */
		{ { "-\xc3\xa9" },
		  ERR(1, "flag provided but not defined: -\xc3\xa9") },
		{ { "-a\"b" }, ERR(1, "flag provided but not defined: -a\"b") },
		/* Names are case-sensitive and matched whole. */
		{ { "-JSON" }, ERR(1, "flag provided but not defined: -JSON") },
		{ { "-js" }, ERR(1, "flag provided but not defined: -js") },
		{ { "-H" }, ERR(1, "flag provided but not defined: -H") },
		{ { "-hel" }, ERR(1, "flag provided but not defined: -hel") },
	};

	(void)state;
	RUN(cases);
}

static void test_flags_missing_argument(void **state)
{
	static const struct parse_case cases[] = {
		{ { "-name" }, ERR(1, "flag needs an argument: -name") },
		{ { "--duration" },
		  ERR(1, "flag needs an argument: -duration") },
		{ { "-o" }, ERR(1, "flag needs an argument: -o") },
		{ { "-json", "-name" },
		  ERR(2, "flag needs an argument: -name") },
	};

	(void)state;
	RUN(cases);
}

static void test_flags_bool_forms(void **state)
{
	static const struct parse_case cases[] = {
		{ { "-json" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "--json" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json=true" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "--json=true" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json=false" }, OK(1, "def", NULL, false, true, YEAR) },
		{ { "-json=1" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json=0" }, OK(1, "def", NULL, false, true, YEAR) },
		{ { "-json=t" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json=f" }, OK(1, "def", NULL, false, true, YEAR) },
		{ { "-json=T" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json=F" }, OK(1, "def", NULL, false, true, YEAR) },
		{ { "-json=TRUE" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json=FALSE" }, OK(1, "def", NULL, false, true, YEAR) },
		{ { "-json=True" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json=False" }, OK(1, "def", NULL, false, true, YEAR) },
		{ { "-v=false" }, OK(1, "def", NULL, false, false, YEAR) },
		{ { "-v=0" }, OK(1, "def", NULL, false, false, YEAR) },
		{ { "--v=F" }, OK(1, "def", NULL, false, false, YEAR) },
		/* A bool flag never takes the next argument. */
		{ { "-json", "false" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "-json", "true", "-v=f" },
		  OK(1, "def", NULL, true, true, YEAR) },
	};

	(void)state;
	RUN(cases);
}

static void test_flags_bad_values(void **state)
{
	static const struct parse_case cases[] = {
		{ { "-json=yes" },
		  ERR(1,
		      "invalid boolean value \"yes\" for -json: parse error") },
		{ { "-json=" },
		  ERR(1, "invalid boolean value \"\" for -json: parse error") },
		{ { "-json=tRUE" },
		  ERR(1,
		      "invalid boolean value \"tRUE\" for -json: parse error") },
		{ { "-json=2" },
		  ERR(1,
		      "invalid boolean value \"2\" for -json: parse error") },
		{ { "--v=no" },
		  ERR(1, "invalid boolean value \"no\" for -v: parse error") },
		{ { "-duration", "abc" },
		  ERR(2,
		      "invalid value \"abc\" for flag -duration: parse error") },
		{ { "-duration=abc" },
		  ERR(1,
		      "invalid value \"abc\" for flag -duration: parse error") },
		{ { "-duration=" },
		  ERR(1,
		      "invalid value \"\" for flag -duration: parse error") },
		{ { "-duration", "1" },
		  ERR(2,
		      "invalid value \"1\" for flag -duration: parse error") },
		{ { "--duration", "1x" },
		  ERR(2,
		      "invalid value \"1x\" for flag -duration: parse error") },
		/* Overflow is errParse too, not "value out of range". */
		{ { "-duration", "3000000h" },
		  ERR(2,
		      "invalid value \"3000000h\" for flag -duration: parse error") },
		/* Go's %q: escapes, control bytes, invalid UTF-8, Unicode. */
		{ { "-duration=a\"b\\" },
		  ERR(1,
		      "invalid value \"a\\\"b\\\\\" for flag -duration: parse error") },
		{ { "-duration=a\nb\t\x01\x7f" },
		  ERR(1,
		      "invalid value \"a\\nb\\t\\x01\\x7f\" for flag -duration: parse error") },
		{ { "-duration=\xff\xfe" },
		  ERR(1,
		      "invalid value \"\\xff\\xfe\" for flag -duration: parse error") },
		{ { "-duration=\xc3\xa9\xc2\xa0\xe2\x80\x8b" },
		  ERR(1,
		      "invalid value \"\xc3\xa9\\u00a0\\u200b\" for flag -duration: parse error") },
		{ { "-duration=\xf0\x9f\x98\x80\xee\x80\x80" },
		  ERR(1,
		      "invalid value \"\xf0\x9f\x98\x80\\ue000\" for flag -duration: parse error") },
		{ { "-duration=\a\b\f\r\v" },
		  ERR(1,
		      "invalid value \"\\a\\b\\f\\r\\v\" for flag -duration: parse error") },
		/* Overlong, surrogate and past U+10FFFF: bytes, not runes. */
		{ { "-duration=\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80" },
		  ERR(1,
		      "invalid value \"\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80\" for flag -duration: parse error") },
	};

	(void)state;
	RUN(cases);
}

static void test_flags_bad_value_long(void **state)
{
	static const char prefix[] = "invalid value \"";
	char value[1024], arg[1100];
	char *argv[] = { arg };
	struct opts o = opt_defaults;
	struct vl_status st = { "" };
	int n_used = -1;
	size_t i;

	(void)state;
	/* A long value is cut at the status size, never overrunning it. */
	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	snprintf(arg, sizeof(arg), "-duration=%s", value);
	assert_int_equal(vl_flags_parse(opt_flags, N_OPT_FLAGS, &o, 1, argv,
					&n_used, &st),
			 -EINVAL);
	assert_int_equal(strlen(st.msg), VL_STATUS_MAX - 1);
	assert_memory_equal(st.msg, prefix, strlen(prefix));
	for (i = strlen(prefix); i < VL_STATUS_MAX - 1; i++)
		assert_int_equal(st.msg[i], 'x');
}

static void test_flags_help(void **state)
{
	static const struct parse_case cases[] = {
		{ { "-h" }, HELP(1) },
		{ { "-help" }, HELP(1) },
		{ { "--help" }, HELP(1) },
		{ { "--h" }, HELP(1) },
		/* The value is split off before the name is looked up. */
		{ { "-help=1" }, HELP(1) },
		{ { "-h=false" }, HELP(1) },
		{ { "-json", "-h", "x" }, HELP(2) },
		/* After the flags end, -h is an ordinary argument. */
		{ { "--", "-h" }, OK(1, "def", NULL, false, true, YEAR) },
		{ { "x", "-help" }, OK(0, "def", NULL, false, true, YEAR) },
	};

	(void)state;
	RUN(cases);
}

static void test_flags_help_when_defined(void **state)
{
	struct hopts {
		bool h;
		const char *help;
	} o = { false, NULL };
	static const struct vl_flag hflags[] = {
		{ "h", VL_FLAG_BOOL, offsetof(struct hopts, h), "host" },
		{ "help", VL_FLAG_STRING, offsetof(struct hopts, help), "" },
	};
	char a0[] = "-h", a1[] = "--help", a2[] = "topic";
	char *argv[] = { a0, a1, a2 };
	struct vl_status st = { "" };
	int n_used = -1;

	(void)state;
	assert_int_equal(vl_flags_parse(hflags, 2, &o, 3, argv, &n_used, &st),
			 0);
	assert_int_equal(n_used, 3);
	assert_true(o.h);
	assert_ptr_equal(o.help, a2);
}

static void test_flags_last_wins(void **state)
{
	static const struct parse_case cases[] = {
		{ { "-name", "a", "-name", "b" },
		  OK(4, "b", NULL, false, true, YEAR) },
		{ { "-name=a", "--name=b", "-name", "c" },
		  OK(4, "c", NULL, false, true, YEAR) },
		{ { "-duration=1h", "-duration", "2m" },
		  OK(3, "def", NULL, false, true, 120 * SEC) },
		{ { "-json", "-json=false" },
		  OK(2, "def", NULL, false, true, YEAR) },
		{ { "-v=false", "-v" }, OK(2, "def", NULL, false, true, YEAR) },
	};

	(void)state;
	RUN(cases);
}

static void test_flags_defaults_preserved(void **state)
{
	static const struct parse_case cases[] = {
		{ { "-o", "x" }, OK(2, "def", "x", false, true, YEAR) },
		{ { "-json" }, OK(1, "def", NULL, true, true, YEAR) },
		{ { "x" }, OK(0, "def", NULL, false, true, YEAR) },
	};
	struct opts o = opt_defaults;
	struct vl_status st = { "" };
	char a0[] = "-json", a1[] = "-name", a2[] = "x", a3[] = "-nope";
	char *argv[] = { a0, a1, a2, a3 };
	int n_used = -1;

	(void)state;
	RUN(cases);

	/* Flags before an error are set; the rest keep their defaults. */
	assert_int_equal(vl_flags_parse(opt_flags, N_OPT_FLAGS, &o, 4, argv,
					&n_used, &st),
			 -EINVAL);
	assert_int_equal(n_used, 4);
	assert_true(o.json);
	assert_ptr_equal(o.name, a2);
	assert_null(o.o);
	assert_true(o.v);
	assert_int_equal(o.duration, 8760 * HOUR);
}

static void test_flags_string_points_into_argv(void **state)
{
	char a0[] = "-name=abc", a1[] = "--o", a2[] = "out";
	char *argv[] = { a0, a1, a2 };
	struct opts o = opt_defaults;
	struct vl_status st = { "" };
	int n_used = -1;

	(void)state;
	assert_int_equal(vl_flags_parse(opt_flags, N_OPT_FLAGS, &o, 3, argv,
					&n_used, &st),
			 0);
	assert_int_equal(n_used, 3);
	assert_ptr_equal(o.name, a0 + strlen("-name="));
	assert_ptr_equal(o.o, a2);
}

static void test_flags_null_status_and_n_used(void **state)
{
	char a0[] = "-nope";
	char *argv[] = { a0 };
	struct opts o = opt_defaults;

	(void)state;
	assert_int_equal(vl_flags_parse(opt_flags, N_OPT_FLAGS, &o, 1, argv,
					NULL, NULL),
			 -EINVAL);
}

struct pd_opts {
	const char *ca_crt;
	int64_t duration;
	bool json;
	bool b;
	const char *o;
	const char *pin;
	const char *note;
	bool v;
	int64_t lifetime;
	const char *quoted;
	bool t;
	int64_t d;
	bool upper_b;
	bool q;
	bool ok;
	const char *dir;
};

/* Deliberately not sorted. */
static const struct vl_flag pd_flags[] = {
	{ "ca-crt", VL_FLAG_STRING, offsetof(struct pd_opts, ca_crt),
	  "Optional: path to the signing CA cert" },
	{ "duration", VL_FLAG_DURATION, offsetof(struct pd_opts, duration),
	  "Optional: how long the cert should be valid for. The default is 1 second before the signing cert expires. Valid time units are seconds: \"s\", minutes: \"m\", hours: \"h\"" },
	{ "json", VL_FLAG_BOOL, offsetof(struct pd_opts, json),
	  "Optional: output in JSON" },
	{ "b", VL_FLAG_BOOL, offsetof(struct pd_opts, b), "short bool" },
	{ "o", VL_FLAG_STRING, offsetof(struct pd_opts, o), "short string" },
	{ "pin", VL_FLAG_STRING, offsetof(struct pd_opts, pin),
	  "read the pin from `file`" },
	{ "note", VL_FLAG_STRING, offsetof(struct pd_opts, note),
	  "line one\nline two" },
	{ "v", VL_FLAG_BOOL, offsetof(struct pd_opts, v), "verbose" },
	{ "lifetime", VL_FLAG_DURATION, offsetof(struct pd_opts, lifetime),
	  "`period` of validity" },
	{ "quoted", VL_FLAG_STRING, offsetof(struct pd_opts, quoted),
	  "odd default" },
	{ "t", VL_FLAG_BOOL, offsetof(struct pd_opts, t),
	  "only one ` back quote" },
	{ "d", VL_FLAG_DURATION, offsetof(struct pd_opts, d),
	  "short duration" },
	{ "B", VL_FLAG_BOOL, offsetof(struct pd_opts, upper_b),
	  "upper case sorts first" },
	{ "q", VL_FLAG_BOOL, offsetof(struct pd_opts, q), "`x` named bool" },
	{ "ok", VL_FLAG_BOOL, offsetof(struct pd_opts, ok), "two letters" },
	{ "dir", VL_FLAG_STRING, offsetof(struct pd_opts, dir),
	  "use `dir` or ` alone" },
};

static const struct pd_opts pd_defaults = {
	.ca_crt = "ca.crt",
	.o = "",
	.note = "x",
	.v = true,
	.lifetime = 8760 * HOUR,
	.quoted = "a\"b\tc\xff",
	.d = -1500000000,
	.upper_b = true,
};

/* Go 1.19.8 FlagSet.PrintDefaults() for the same definitions. */
static const char pd_expected[] =
	"  -B\tupper case sorts first (default true)\n"
	"  -b\tshort bool\n"
	"  -ca-crt string\n"
	"    \tOptional: path to the signing CA cert (default \"ca.crt\")\n"
	"  -d duration\n"
	"    \tshort duration (default -1.5s)\n"
	"  -dir dir\n"
	"    \tuse dir or ` alone\n"
	"  -duration duration\n"
	"    \tOptional: how long the cert should be valid for. The default is 1 second before the signing cert expires. Valid time units are seconds: \"s\", minutes: \"m\", hours: \"h\"\n"
	"  -json\n"
	"    \tOptional: output in JSON\n"
	"  -lifetime period\n"
	"    \tperiod of validity (default 8760h0m0s)\n"
	"  -note string\n"
	"    \tline one\n"
	"    \tline two (default \"x\")\n"
	"  -o string\n"
	"    \tshort string\n"
	"  -ok\n"
	"    \ttwo letters\n"
	"  -pin file\n"
	"    \tread the pin from file\n"
	"  -q x\n"
	"    \tx named bool\n"
	"  -quoted string\n"
	"    \todd default (default \"a\\\"b\\tc\\xff\")\n"
	"  -t\tonly one ` back quote\n"
	"  -v\tverbose (default true)\n";

static char *print_defaults(const struct vl_flag *flags, size_t n,
			    const void *defaults)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	vl_flags_print_defaults(f, flags, n, defaults);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

static void test_flags_print_defaults(void **state)
{
	char *out;

	(void)state;
	out = print_defaults(pd_flags, sizeof(pd_flags) / sizeof(pd_flags[0]),
			     &pd_defaults);
	assert_string_equal(out, pd_expected);
	free(out);
}

static void test_flags_print_defaults_nebula_cert_sign(void **state)
{
	/* Two lines of real nebula-cert 1.6.1 "sign -h". */
	static const char expected[] =
		"  -ca-crt string\n"
		"    \tOptional: path to the signing CA cert (default \"ca.crt\")\n"
		"  -duration duration\n"
		"    \tOptional: how long the cert should be valid for. The default is 1 second before the signing cert expires. Valid time units are seconds: \"s\", minutes: \"m\", hours: \"h\"\n";
	char *out;

	(void)state;
	out = print_defaults(pd_flags, 2, &pd_defaults);
	assert_string_equal(out, expected);
	free(out);

	out = print_defaults(pd_flags, 0, &pd_defaults);
	assert_string_equal(out, "");
	free(out);
}

struct dur_parse_case {
	const char *s;
	int ret;
	int64_t ns;
};

static void test_flags_duration_parse(void **state)
{
	static const struct dur_parse_case cases[] = {
		{ "0", 0, 0 },
		{ "+0", 0, 0 },
		{ "-0", 0, 0 },
		{ "0s", 0, 0 },
		{ "-0s", 0, 0 },
		{ "00s", 0, 0 },
		{ "01s", 0, SEC },
		{ "5s", 0, 5 * SEC },
		{ "30s", 0, 30 * SEC },
		{ "1478s", 0, 1478 * SEC },
		{ "-5s", 0, -5 * SEC },
		{ "+5s", 0, 5 * SEC },
		{ "1.5h", 0, 5400 * SEC },
		{ ".5s", 0, SEC / 2 },
		{ "1.s", 0, SEC },
		{ "1.0s", 0, SEC },
		{ "2h45m", 0, 9900 * SEC },
		{ "300ms", 0, 300000000 },
		{ "-1.5h", 0, -5400 * SEC },
		{ "1ns", 0, 1 },
		{ "1us", 0, 1000 },
		{ "1\xc2\xb5s", 0, 1000 }, /* U+00B5 */
		{ "1\xce\xbcs", 0, 1000 }, /* U+03BC */
		{ "1.5\xc2\xb5s", 0, 1500 },
		{ "0.1us", 0, 100 },
		{ "1ms", 0, 1000000 },
		{ "1m", 0, 60 * SEC },
		{ "1h", 0, HOUR },
		{ "8760h", 0, 8760 * HOUR },
		{ "2m3.4s", 0, 123400000000 },
		{ "1h1m1s1ms1us1ns", 0, 3661001001001 },
		{ "39h9m14.425s", 0, 140954425000000 },
		{ "52763797000ns", 0, 52763797000 },
		{ "12345678.987654321s", 0, 12345678987654321 },
		/* Fractions: double arithmetic, truncated. */
		{ "0.3333333333333333333h", 0, 1200000000000 },
		{ "1.0000000001s", 0, SEC },
		{ "0.100000000000000000000h", 0, 360 * SEC },
		{ "1.00000000000000000000000000000001s", 0, SEC },
		{ "0.000000001s", 0, 1 },
		{ "0.0000000009s", 0, 0 },
		/* 20 digits: the last would wrap, so only 19 count. */
		{ "0.18446744073709551620s", 0, 184467440 },
		{ "0.5ns", 0, 0 },
		{ "0.9223372036854775807h", 0, 3320413933267 },
		{ "2562047.7880152155h", 0, 9223372036854775800 },
		{ "-2562047.788015215h", 0, -9223372036854774000 },
		/* The limits. */
		{ "9223372036854775807ns", 0, INT64_MAX },
		{ "-9223372036854775808ns", 0, INT64_MIN },
		{ "-9223372036854775808ns0ns", 0, INT64_MIN },
		{ "-9223372036854775807ns1ns", 0, INT64_MIN },
		{ "9223372036s854775807ns", 0, INT64_MAX },
		{ "2562047h47m16.854775807s", 0, INT64_MAX },
		{ "-2562047h47m16.854775808s", 0, INT64_MIN },
		/* Syntax errors. */
		{ "", -EINVAL, 0 },
		{ "+", -EINVAL, 0 },
		{ "-", -EINVAL, 0 },
		{ "1", -EINVAL, 0 },
		{ "00", -EINVAL, 0 },
		{ "1.5", -EINVAL, 0 },
		{ "1x", -EINVAL, 0 },
		{ ".", -EINVAL, 0 },
		{ ".s", -EINVAL, 0 },
		{ "-.s", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "1 s", -EINVAL, 0 },
		{ " 1s", -EINVAL, 0 },
		{ "1s ", -EINVAL, 0 },
		{ "1S", -EINVAL, 0 },
		{ "1sec", -EINVAL, 0 },
		{ "1h-1m", -EINVAL, 0 },
		{ "1.2.3s", -EINVAL, 0 },
		{ "1e3s", -EINVAL, 0 },
		{ "0x10s", -EINVAL, 0 },
		{ "-+1s", -EINVAL, 0 },
		{ "--1s", -EINVAL, 0 },
		{ "1\xc2\xb5", -EINVAL, 0 },
		{ "1\xb5s", -EINVAL, 0 },
		/* Overflow. */
		{ "3000000h", -ERANGE, 0 },
		{ "2562047h48m", -ERANGE, 0 },
		{ "9223372036854775808ns", -ERANGE, 0 },
		{ "-9223372036854775809ns", -ERANGE, 0 },
		{ "9223372036854775807ns1ns", -ERANGE, 0 },
		{ "-9223372036854775807ns2ns", -ERANGE, 0 },
		{ "-9223372036854775808ns1ns", -ERANGE, 0 },
		{ "-9223372036854775808ns1h", -ERANGE, 0 },
		{ "2562047h47m16.854775808s", -ERANGE, 0 },
		{ "99999999999999999999ns", -ERANGE, 0 },
		{ "18446744073709551620ns", -ERANGE, 0 }, /* wraps to 4 */
		{ "9223372036.854775808s", -ERANGE, 0 },
		{ "2562047.788015216h", -ERANGE, 0 },
		/* Go wraps 2^63 + 2^63 to 0 and returns 0s; Vela refuses. */
		{ "9223372036854775808ns9223372036854775808ns", -ERANGE, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dur_parse_case *c = &cases[i];
		int64_t ns = 12345;
		int ret = vl_duration_parse(c->s, &ns);

		if (ret != c->ret || (!ret && ns != c->ns))
			fail_msg("\"%s\": ret %d ns %lld, want ret %d ns %lld",
				 c->s, ret, (long long)ns, c->ret,
				 (long long)c->ns);
		/* A failed parse leaves the output alone. */
		if (ret && ns != 12345)
			fail_msg("\"%s\": output changed on error", c->s);
	}
}

struct dur_format_case {
	int64_t ns;
	const char *s;
};

static const struct dur_format_case format_cases[] = {
	{ 0, "0s" },
	{ 1, "1ns" },
	{ 999, "999ns" },
	{ 1000, "1\xc2\xb5s" },
	{ 1001, "1.001\xc2\xb5s" },
	{ 1500, "1.5\xc2\xb5s" },
	{ 999999, "999.999\xc2\xb5s" },
	{ 1000000, "1ms" },
	{ 1500000, "1.5ms" },
	{ 999999999, "999.999999ms" },
	{ SEC, "1s" },
	{ 1500000000, "1.5s" },
	{ 60 * SEC, "1m0s" },
	{ 61 * SEC, "1m1s" },
	{ 100 * SEC, "1m40s" },
	{ HOUR, "1h0m0s" },
	{ HOUR + SEC + 1, "1h0m1.000000001s" },
	{ 72 * HOUR + 3 * 60 * SEC + SEC / 2, "72h3m0.5s" },
	{ 8760 * HOUR, "8760h0m0s" },
	{ -1, "-1ns" },
	{ -1500, "-1.5\xc2\xb5s" },
	{ -1500000000, "-1.5s" },
	{ INT64_MAX, "2562047h47m16.854775807s" },
	{ INT64_MIN, "-2562047h47m16.854775808s" },
};

static void test_flags_duration_format(void **state)
{
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		memset(buf, 'X', sizeof(buf));
		vl_duration_format(format_cases[i].ns, buf, sizeof(buf));
		if (strcmp(buf, format_cases[i].s))
			fail_msg("%lld: got \"%s\", want \"%s\"",
				 (long long)format_cases[i].ns, buf,
				 format_cases[i].s);
	}
}

static void test_flags_duration_format_roundtrip(void **state)
{
	char buf[64];
	int64_t ns;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		vl_duration_format(format_cases[i].ns, buf, sizeof(buf));
		assert_int_equal(vl_duration_parse(buf, &ns), 0);
		if (ns != format_cases[i].ns)
			fail_msg("\"%s\": parsed %lld, want %lld", buf,
				 (long long)ns, (long long)format_cases[i].ns);
	}
}

static void test_flags_duration_format_truncation(void **state)
{
	static const struct {
		int64_t ns;
		size_t len;
		const char *s;
	} cases[] = {
		{ 8760 * HOUR, 1, "" },
		{ 8760 * HOUR, 5, "8760" },
		{ 8760 * HOUR, 9, "8760h0m0" },
		{ 8760 * HOUR, 10, "8760h0m0s" },
		/* Never half of the two-byte 'µ'. */
		{ 1500, 4, "1.5" },
		{ 1500, 5, "1.5" },
		{ 1500, 6, "1.5\xc2\xb5" },
		{ 1500, 7, "1.5\xc2\xb5s" },
		{ INT64_MIN, 26, "-2562047h47m16.854775808s" },
		{ INT64_MIN, 25, "-2562047h47m16.854775808" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'X', sizeof(buf));
		vl_duration_format(cases[i].ns, buf, cases[i].len);
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(buf[cases[i].len], 'X');
	}

	/* A zero-length buffer is not touched. */
	buf[0] = 'X';
	vl_duration_format(SEC, buf, 0);
	assert_int_equal(buf[0], 'X');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_syntax_forms),
		cmocka_unit_test(test_flags_stop_conditions),
		cmocka_unit_test(test_flags_stop_at_argc),
		cmocka_unit_test(test_flags_bad_syntax),
		cmocka_unit_test(test_flags_unknown_flag),
		cmocka_unit_test(test_flags_missing_argument),
		cmocka_unit_test(test_flags_bool_forms),
		cmocka_unit_test(test_flags_bad_values),
		cmocka_unit_test(test_flags_bad_value_long),
		cmocka_unit_test(test_flags_help),
		cmocka_unit_test(test_flags_help_when_defined),
		cmocka_unit_test(test_flags_last_wins),
		cmocka_unit_test(test_flags_defaults_preserved),
		cmocka_unit_test(test_flags_string_points_into_argv),
		cmocka_unit_test(test_flags_null_status_and_n_used),
		cmocka_unit_test(test_flags_print_defaults),
		cmocka_unit_test(test_flags_print_defaults_nebula_cert_sign),
		cmocka_unit_test(test_flags_duration_parse),
		cmocka_unit_test(test_flags_duration_format),
		cmocka_unit_test(test_flags_duration_format_roundtrip),
		cmocka_unit_test(test_flags_duration_format_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
