/* SPDX-License-Identifier: MIT */
#include "flags.h"

#include <errno.h>
#include <string.h>

#include "status.h"

/*
 * Go 1.19 behaviour reproduced here that is easy to get wrong:
 *
 * - "" and "-" end the flags and stay unconsumed; "--" ends them and is
 *   consumed. "---x", "-=x" and "--=x" are "bad flag syntax".
 * - "--name" is "-name"; messages always show a single dash.
 * - The value is split off at the first '=' before the name is looked up,
 *   so "-help=x" asks for help and "-nope=1" names "-nope" as undefined.
 * - A bool flag takes a value only after '='; any other flag takes the
 *   next argument whatever it looks like ("-out -x" sets out to "-x").
 * - Bool and duration Set() failures are Go's errParse: the message ends
 *   in "parse error", never strconv's or time's own text.
 * - On error *n_used counts what Go had consumed by then: the bad flag
 *   and its value for an unknown flag or a bad value, nothing for bad
 *   syntax.
 * - PrintDefaults: a `word` in back quotes inside the usage names the
 *   value and loses its quotes; the usage stays on the flag's line only
 *   when "  -name type" is at most 4 bytes, i.e. a bool flag whose name
 *   is one byte; newlines in the usage are indented; defaults equal to the
 *   type's zero value ("", false, 0s) are not shown.
 * - ParseDuration sums the integer parts in uint64 up to 2^63 so that
 *   "-9223372036854775808ns" is valid. A fraction keeps its first digits
 *   while they fit below 2^63 (the rest are dropped, not rounded) and adds
 *   (uint64_t)(f * (unit / scale)) in double precision, truncated, so
 *   "1.0000000001s" is exactly 1s.
 * - Duration.String() uses U+00B5 for micro and never prints days.
 */

#define NS_PER_SEC 1000000000ULL
#define BIT63 (1ULL << 63)

/* Output to a stream or, when @f is NULL, into a NUL-terminated buffer. */
struct sink {
	FILE *f;
	char *buf;
	size_t size;
	size_t pos;
};

static void put(struct sink *o, const char *s, size_t n)
{
	if (o->f) {
		fwrite(s, 1, n, o->f);
		return;
	}
	if (!o->size)
		return;
	if (n > o->size - 1 - o->pos)
		n = o->size - 1 - o->pos;
	memcpy(o->buf + o->pos, s, n);
	o->pos += n;
	o->buf[o->pos] = '\0';
}

static void puts_(struct sink *o, const char *s)
{
	put(o, s, strlen(s));
}

static void puthex(struct sink *o, const char *prefix, uint32_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[8];
	int i;

	puts_(o, prefix);
	for (i = 0; i < digits; i++)
		tmp[i] = hex[(v >> (4 * (digits - 1 - i))) & 0xf];
	put(o, tmp, (size_t)digits);
}

/*
 * Decodes one UTF-8 sequence as Go's utf8.DecodeRuneInString does:
 * overlong forms, surrogates and values past U+10FFFF are invalid.
 * Returns its length, or 0 for an invalid byte.
 */
static size_t utf8_decode(const unsigned char *s, uint32_t *r)
{
	uint32_t min;
	size_t n, i;

	if (s[0] < 0x80) {
		*r = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		min = 0x80;
		*r = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		min = 0x800;
		*r = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		min = 0x10000;
		*r = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*r = (*r << 6) | (s[i] & 0x3f);
	}
	if (*r < min || *r > 0x10ffff || (*r >= 0xd800 && *r <= 0xdfff))
		return 0;
	return n;
}

/*
 * An approximation of Go's unicode.IsPrint for code points above ASCII:
 * it knows the controls, the format characters, the separators other than
 * U+0020, private use and noncharacters, but not which code points are
 * unassigned, so those are printed as they are where Go escapes them.
 */
static bool is_print(uint32_t r)
{
	static const uint32_t not_print[][2] = {
		{ 0x0080, 0x00a0 },   { 0x00ad, 0x00ad },
		{ 0x0600, 0x0605 },   { 0x061c, 0x061c },
		{ 0x06dd, 0x06dd },   { 0x070f, 0x070f },
		{ 0x08e2, 0x08e2 },   { 0x1680, 0x1680 },
		{ 0x180e, 0x180e },   { 0x2000, 0x200f },
		{ 0x2028, 0x202f },   { 0x205f, 0x206f },
		{ 0x3000, 0x3000 },   { 0xe000, 0xf8ff },
		{ 0xfdd0, 0xfdef },   { 0xfeff, 0xfeff },
		{ 0xfff9, 0xfffb },   { 0x110bd, 0x110bd },
		{ 0x110cd, 0x110cd }, { 0x13430, 0x1343f },
		{ 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a },
		{ 0xe0000, 0xe00ff }, { 0xe01f0, 0x10ffff },
	};
	size_t i;

	if (r < 0x80)
		return r >= 0x20 && r < 0x7f;
	if ((r & 0xfffe) == 0xfffe)
		return false;
	for (i = 0; i < sizeof(not_print) / sizeof(not_print[0]); i++)
		if (r >= not_print[i][0] && r <= not_print[i][1])
			return false;
	return true;
}

/* Go's strconv.Quote, the %q of the messages and of PrintDefaults. */
static void quote(struct sink *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t r;
	size_t n;

	puts_(o, "\"");
	for (; *s; s += n) {
		n = utf8_decode(s, &r);
		if (!n) {
			puthex(o, "\\x", *s, 2);
			n = 1;
		} else if (r == '"' || r == '\\') {
			puts_(o, "\\");
			put(o, (const char *)s, 1);
		} else if (is_print(r)) {
			put(o, (const char *)s, n);
		} else if (r == '\a') {
			puts_(o, "\\a");
		} else if (r == '\b') {
			puts_(o, "\\b");
		} else if (r == '\f') {
			puts_(o, "\\f");
		} else if (r == '\n') {
			puts_(o, "\\n");
		} else if (r == '\r') {
			puts_(o, "\\r");
		} else if (r == '\t') {
			puts_(o, "\\t");
		} else if (r == '\v') {
			puts_(o, "\\v");
		} else if (r < 0x20 || r == 0x7f) {
			puthex(o, "\\x", r, 2);
		} else if (r < 0x10000) {
			puthex(o, "\\u", r, 4);
		} else {
			puthex(o, "\\U", r, 8);
		}
	}
	puts_(o, "\"");
}

static void quote_buf(char *buf, size_t size, const char *s)
{
	struct sink o = { .buf = buf, .size = size };

	buf[0] = '\0';
	quote(&o, s);
}

/* strconv.ParseBool */
static int parse_bool(const char *s, bool *v)
{
	static const struct {
		const char *s;
		bool v;
	} words[] = {
		{ "1", true },	    { "t", true },	{ "T", true },
		{ "true", true },   { "TRUE", true },	{ "True", true },
		{ "0", false },	    { "f", false },	{ "F", false },
		{ "false", false }, { "FALSE", false }, { "False", false },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!strcmp(s, words[i].s)) {
			*v = words[i].v;
			return 0;
		}
	}
	return -EINVAL;
}

static const struct vl_flag *lookup(const struct vl_flag *flags, size_t n_flags,
				    const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n_flags; i++)
		if (strlen(flags[i].name) == len &&
		    !memcmp(flags[i].name, name, len))
			return &flags[i];
	return NULL;
}

static bool is_name(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && !memcmp(name, want, len);
}

/*
 * Go's FlagSet.parseOne: handles argv[*i] and advances *i past what it
 * consumed. Sets *done when the flags have ended.
 */
/*
 * Fields are reached through offsetof(); memcpy makes no assumption about
 * how the options struct aligns them.
 */
static void store(void *field, const void *value, size_t len)
{
	memcpy(field, value, len);
}

static int parse_one(const struct vl_flag *flags, size_t n_flags, void *opts,
		     int argc, char **argv, int *i, bool *done,
		     struct vl_status *st)
{
	char q[VL_STATUS_MAX];
	const struct vl_flag *f;
	const char *s = argv[*i], *name, *eq, *value;
	void *field;
	int64_t d;
	bool b;
	int len;

	if (!s || s[0] != '-' || s[1] == '\0') {
		*done = true;
		return 0;
	}
	name = s + 1;
	if (*name == '-') {
		name++;
		if (*name == '\0') {
			(*i)++;
			*done = true;
			return 0;
		}
	}
	if (*name == '-' || *name == '=')
		return vl_status_set(st, -EINVAL, "bad flag syntax: %s", s);
	(*i)++;

	eq = strchr(name, '=');
	value = eq ? eq + 1 : NULL;
	len = (int)(eq ? (size_t)(eq - name) : strlen(name));
	f = lookup(flags, n_flags, name, (size_t)len);
	if (!f) {
		if (is_name(name, (size_t)len, "h") ||
		    is_name(name, (size_t)len, "help"))
			return vl_status_set(st, VL_FLAGS_HELP,
					     "flag: help requested");
		return vl_status_set(st, -EINVAL,
				     "flag provided but not defined: -%.*s",
				     len, name);
	}
	field = (char *)opts + f->offset;

	if (f->type == VL_FLAG_BOOL) {
		if (!value) {
			store(field, &(bool){ true }, sizeof(bool));
			return 0;
		}
		if (parse_bool(value, &b)) {
			quote_buf(q, sizeof(q), value);
			return vl_status_set(
				st, -EINVAL,
				"invalid boolean value %s for -%.*s: parse error",
				q, len, name);
		}
		store(field, &b, sizeof(b));
		return 0;
	}

	if (!value) {
		if (*i >= argc || !argv[*i])
			return vl_status_set(st, -EINVAL,
					     "flag needs an argument: -%.*s",
					     len, name);
		value = argv[(*i)++];
	}
	switch (f->type) {
	case VL_FLAG_STRING:
		store(field, &value, sizeof(value));
		return 0;
	case VL_FLAG_DURATION:
		if (vl_duration_parse(value, &d))
			break;
		store(field, &d, sizeof(d));
		return 0;
	case VL_FLAG_BOOL: /* handled above */
	default:
		return vl_status_set(st, -EINVAL,
				     "flag -%.*s has unknown type %d", len,
				     name, (int)f->type);
	}
	quote_buf(q, sizeof(q), value);
	return vl_status_set(st, -EINVAL,
			     "invalid value %s for flag -%.*s: parse error", q,
			     len, name);
}

int vl_flags_parse(const struct vl_flag *flags, size_t n_flags, void *opts,
		   int argc, char **argv, int *n_used, struct vl_status *st)
{
	bool done = false;
	int i = 0, err = 0;

	while (!err && !done && i < argc)
		err = parse_one(flags, n_flags, opts, argc, argv, &i, &done,
				st);
	if (n_used)
		*n_used = i;
	return err;
}

/* Writes @s with every newline followed by PrintDefaults' indent. */
static void put_usage(FILE *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		fputc(s[i], out);
		if (s[i] == '\n')
			fputs("    \t", out);
	}
}

/* The value's name when the usage has no `word`; bools have none. */
static const char *type_name(enum vl_flag_type type)
{
	switch (type) {
	case VL_FLAG_BOOL:
		return "";
	case VL_FLAG_STRING:
		return "string";
	case VL_FLAG_DURATION:
		return "duration";
	}
	return "value";
}

static void print_one(FILE *out, const struct vl_flag *f, const void *defaults)
{
	const char *usage = f->usage ? f->usage : "";
	const char *field = (const char *)defaults + f->offset;
	const char *str;
	int64_t ns;
	bool b;
	const char *type, *bq1, *bq2 = NULL;
	size_t type_len = 0;
	char dur[32];

	/* Go's UnquoteUsage: the first `word` names the value. */
	bq1 = strchr(usage, '`');
	if (bq1)
		bq2 = strchr(bq1 + 1, '`');
	if (bq2) {
		type = bq1 + 1;
		type_len = (size_t)(bq2 - type);
	} else {
		type = type_name(f->type);
		type_len = strlen(type);
	}

	fprintf(out, "  -%s", f->name);
	if (type_len)
		fprintf(out, " %.*s", (int)type_len, type);
	if (3 + strlen(f->name) + (type_len ? 1 + type_len : 0) <= 4)
		fputs("\t", out);
	else
		fputs("\n    \t", out);

	if (bq2) {
		put_usage(out, usage, (size_t)(bq1 - usage));
		put_usage(out, type, type_len);
		put_usage(out, bq2 + 1, strlen(bq2 + 1));
	} else {
		put_usage(out, usage, strlen(usage));
	}

	if (!defaults) {
		fputs("\n", out);
		return;
	}
	switch (f->type) {
	case VL_FLAG_STRING:
		memcpy(&str, field, sizeof(str));
		if (str && *str) {
			struct sink o = { .f = out };

			fputs(" (default ", out);
			quote(&o, str);
			fputs(")", out);
		}
		break;
	case VL_FLAG_BOOL:
		memcpy(&b, field, sizeof(b));
		if (b)
			fputs(" (default true)", out);
		break;
	case VL_FLAG_DURATION:
		memcpy(&ns, field, sizeof(ns));
		if (ns) {
			vl_duration_format(ns, dur, sizeof(dur));
			fprintf(out, " (default %s)", dur);
		}
		break;
	}
	fputs("\n", out);
}

/* Orders flags by name, then by position so that duplicates stay apart. */
static bool before(const struct vl_flag *flags, size_t a, size_t b)
{
	int c = strcmp(flags[a].name, flags[b].name);

	return c < 0 || (c == 0 && a < b);
}

void vl_flags_print_defaults(FILE *out, const struct vl_flag *flags,
			     size_t n_flags, const void *defaults)
{
	size_t done, i, next, prev = 0;

	/*
	 * Selection by name without sorting a copy: tables are short and
	 * this keeps printing free of allocation failures.
	 */
	for (done = 0; done < n_flags; done++) {
		next = n_flags;
		for (i = 0; i < n_flags; i++) {
			if (done && !before(flags, prev, i))
				continue;
			if (next == n_flags || before(flags, i, next))
				next = i;
		}
		print_one(out, &flags[next], defaults);
		prev = next;
	}
}

static const struct unit {
	const char *name;
	uint64_t ns;
} units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 }, /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000 }, /* U+03BC Greek small letter mu */
	{ "ms", 1000000 },
	{ "s", NS_PER_SEC },
	{ "m", 60 * NS_PER_SEC },
	{ "h", 3600 * NS_PER_SEC },
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Go's leadingFraction: stops gaining precision instead of overflowing. */
static const char *fraction(const char *s, uint64_t *x, double *scale)
{
	bool overflow = false;
	uint64_t y;

	*x = 0;
	*scale = 1;
	for (; is_digit(*s); s++) {
		if (overflow)
			continue;
		if (*x > (BIT63 - 1) / 10) {
			overflow = true;
			continue;
		}
		y = *x * 10 + (uint64_t)(*s - '0');
		if (y > BIT63) {
			overflow = true;
			continue;
		}
		*x = y;
		*scale *= 10;
	}
	return s;
}

int vl_duration_parse(const char *s, int64_t *ns)
{
	const struct unit *u;
	const char *p;
	uint64_t d = 0, v, f;
	double scale;
	bool neg = false, pre, post;
	size_t len, i;

	if (!s)
		return -EINVAL;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;

	while (*s) {
		if (*s != '.' && !is_digit(*s))
			return -EINVAL;

		/* Go's leadingInt: up to and including 2^63. */
		for (v = 0, p = s; is_digit(*s); s++) {
			if (v > BIT63 / 10)
				return -ERANGE;
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > BIT63)
				return -ERANGE;
		}
		pre = s != p;

		f = 0;
		scale = 1;
		post = false;
		if (*s == '.') {
			p = ++s;
			s = fraction(s, &f, &scale);
			post = s != p;
		}
		if (!pre && !post)
			return -EINVAL;

		len = strcspn(s, ".0123456789");
		if (!len)
			return -EINVAL;
		for (i = 0, u = NULL; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == len &&
			    !memcmp(units[i].name, s, len))
				u = &units[i];
		if (!u)
			return -EINVAL;
		s += len;

		if (v > BIT63 / u->ns)
			return -ERANGE;
		v *= u->ns;
		if (f > 0) {
			/* At most 3.6e12 (one hour), so no wrap here. */
			v += (uint64_t)((double)f * ((double)u->ns / scale));
			if (v > BIT63)
				return -ERANGE;
		}
		/*
		 * Go adds first and then compares with 2^63, which lets
		 * 2^63 + 2^63 wrap to 0; check before adding instead.
		 */
		if (v > BIT63 - d)
			return -ERANGE;
		d += v;
	}
	if (neg) {
		*ns = d == BIT63 ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > BIT63 - 1)
		return -ERANGE;
	*ns = (int64_t)d;
	return 0;
}

/* Go's fmtFrac: v's last @prec digits before @w, no trailing zeros. */
static size_t fmt_frac(char *buf, size_t w, uint64_t *v, int prec)
{
	bool print = false;
	uint64_t digit;
	int i;

	for (i = 0; i < prec; i++) {
		digit = *v % 10;
		print = print || digit;
		if (print)
			buf[--w] = (char)('0' + digit);
		*v /= 10;
	}
	if (print)
		buf[--w] = '.';
	return w;
}

static size_t fmt_int(char *buf, size_t w, uint64_t v)
{
	do {
		buf[--w] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return w;
}

void vl_duration_format(int64_t ns, char *buf, size_t len)
{
	char tmp[32]; /* "-2562047h47m16.854775808s" is 25 */
	size_t w = sizeof(tmp), n;
	uint64_t u = (uint64_t)ns;
	int prec;

	if (ns < 0)
		u = -u;
	if (u == 0) {
		w -= 2;
		memcpy(tmp + w, "0s", 2);
	} else if (u < NS_PER_SEC) {
		tmp[--w] = 's';
		if (u < 1000) {
			prec = 0;
			tmp[--w] = 'n';
		} else if (u < 1000000) {
			prec = 3;
			tmp[--w] = '\xb5'; /* U+00B5 micro sign */
			tmp[--w] = '\xc2';
		} else {
			prec = 6;
			tmp[--w] = 'm';
		}
		w = fmt_frac(tmp, w, &u, prec);
		w = fmt_int(tmp, w, u);
	} else {
		tmp[--w] = 's';
		w = fmt_frac(tmp, w, &u, 9);
		w = fmt_int(tmp, w, u % 60);
		u /= 60;
		if (u) {
			tmp[--w] = 'm';
			w = fmt_int(tmp, w, u % 60);
			u /= 60;
			/* Hours are the largest unit: days vary in length. */
			if (u) {
				tmp[--w] = 'h';
				w = fmt_int(tmp, w, u);
			}
		}
	}
	if (ns < 0)
		tmp[--w] = '-';

	if (!buf || !len)
		return;
	n = sizeof(tmp) - w;
	if (n > len - 1) {
		/* Truncate like snprintf, but never inside the 'µ'. */
		n = len - 1;
		while (n && ((unsigned char)tmp[w + n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, tmp + w, n);
	buf[n] = '\0';
}
