/*
 * password.c - Dovecot password schemes: verify and create "{SCHEME}data".
 *
 * A stored string is "{NAME[.ENC]}data" or, without the braces, data of
 * the default scheme SHA512-CRYPT. NAME picks a row of the scheme table
 * below; ENC (HEX, B64, BASE64) overrides how data is encoded, exactly as
 * Dovecot does: data is decoded first, then the scheme checks the raw
 * bytes. Schemes whose raw form is text (the crypt family, argon2, plain)
 * default to no encoding; the SHA family defaults to base64 (a digest of
 * the right length in hex is also accepted, as Dovecot does).
 *
 * The crypt family (SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, CRYPT,
 * DES-CRYPT, MD5-CRYPT) shares one verifier, like Dovecot's: any of the
 * methods $6$, $5$, $2a/b/x/y$, $y$, $1$ and DES is checked with
 * crypt_rn() whatever the name in braces says. Other crypt(3) methods
 * ($7$, $gy$, $sha1$, $md5, _, $3$) are refused: their work factors are
 * not bounded here. Every method with a work factor is checked against
 * struct password_limits before any hashing starts.
 *
 * Creation follows doveadm pw: SHA-crypt with a 16-character salt and
 * the default 5000 rounds, bcrypt "$2y$" cost 5 (also for CRYPT, which
 * Dovecot 2.3 creates as bcrypt), argon2 with libsodium's parameters that
 * Dovecot uses, SSHA with the digest followed by the salt. Salts come from
 * getrandom(2).
 *
 * No static buffers: crypt_rn() gets a heap crypt_data (32 KiB, too big
 * for a small thread stack), error messages are string literals.
 */
#include "directory/password.h"
#include "core/xalloc.h"

#include <argon2.h>
#include <assert.h>
#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* The longest "{NAME.ENC}" prefix we look for a '}' in. */
#define SCHEME_PREFIX_MAX 64

#define SHA_CRYPT_ROUNDS_MIN 1000
#define BCRYPT_COST_MIN      4
#define BCRYPT_COST_DEFAULT  5
#define YESCRYPT_COST_TOP    11 /* libxcrypt's highest cost level (1 GiB) */
#define BCRYPT_KEY_MAX       72 /* bytes of the password bcrypt reads */
#define DES_KEY_MAX          8
#define CRYPT_SALT_BYTES     16
#define ARGON2_SALT_BYTES    16
#define ARGON2_HASH_BYTES    32
#define SSHA_SALT_BYTES      8

const struct password_limits password_default_limits = {
    .sha_crypt_rounds_max = 5000000,
    .bcrypt_cost_max = 16,
    .yescrypt_cost_max = YESCRYPT_COST_TOP,
    .argon2_m_kib_max = 1024 * 1024,
    .argon2_t_max = 64,
    .argon2_p_max = 16,
};

enum pw_kind {
	PW_CRYPT,
	PW_ARGON2ID,
	PW_ARGON2I,
	PW_SSHA512,
	PW_SSHA256,
	PW_SHA512,
	PW_SHA256,
	PW_PLAIN,
};

enum pw_encoding { ENC_NONE, ENC_BASE64, ENC_HEX };

struct pw_scheme {
	const char *name;
	enum pw_kind kind;
	enum pw_encoding default_enc;
	bool creatable;
	const char *crypt_prefix; /* crypt_gensalt_rn() prefix for creation */
};

static const struct pw_scheme schemes[] = {
    {"SHA512-CRYPT", PW_CRYPT, ENC_NONE, true, "$6$"},
    {"SHA256-CRYPT", PW_CRYPT, ENC_NONE, true, "$5$"},
    {"BLF-CRYPT", PW_CRYPT, ENC_NONE, true, "$2y$"},
    {"CRYPT", PW_CRYPT, ENC_NONE, true, "$2y$"},
    {"DES-CRYPT", PW_CRYPT, ENC_NONE, false, NULL},
    {"MD5-CRYPT", PW_CRYPT, ENC_NONE, false, NULL},
    {"ARGON2ID", PW_ARGON2ID, ENC_NONE, true, NULL},
    {"ARGON2I", PW_ARGON2I, ENC_NONE, true, NULL},
    {"SSHA512", PW_SSHA512, ENC_BASE64, true, NULL},
    {"SSHA256", PW_SSHA256, ENC_BASE64, true, NULL},
    {"SHA512", PW_SHA512, ENC_BASE64, false, NULL},
    {"SHA256", PW_SHA256, ENC_BASE64, false, NULL},
    {"PLAIN", PW_PLAIN, ENC_NONE, false, NULL},
    {"CLEAR", PW_PLAIN, ENC_NONE, false, NULL},
    {"CLEARTEXT", PW_PLAIN, ENC_NONE, false, NULL},
};

#define N_SCHEMES (sizeof(schemes) / sizeof(schemes[0]))

static const struct {
	const char *name;
	enum pw_encoding enc;
} encodings[] = {
    {"HEX", ENC_HEX},
    {"B64", ENC_BASE64},
    {"BASE64", ENC_BASE64},
};

/* A parsed scheme name: the table row and the encoding suffix, if any. */
struct pw_name {
	const struct pw_scheme *scheme;
	enum pw_encoding enc;
	const char *enc_name; /* NULL without a suffix */
};

static int scheme_parse(const char *name, size_t len, struct pw_name *r)
{
	const char *dot = memchr(name, '.', len);
	size_t base_len = dot != NULL ? (size_t)(dot - name) : len;

	r->scheme = NULL;
	for (size_t i = 0; i < N_SCHEMES; i++) {
		if (strlen(schemes[i].name) == base_len &&
		    strncasecmp(schemes[i].name, name, base_len) == 0) {
			r->scheme = &schemes[i];
			break;
		}
	}
	if (r->scheme == NULL)
		return -1;
	r->enc = r->scheme->default_enc;
	r->enc_name = NULL;
	if (dot == NULL)
		return 0;
	size_t suf_len = len - base_len - 1;
	for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++) {
		if (strlen(encodings[i].name) == suf_len &&
		    strncasecmp(encodings[i].name, dot + 1, suf_len) == 0) {
			r->enc = encodings[i].enc;
			r->enc_name = encodings[i].name;
			return 0;
		}
	}
	return -1;
}

int password_scheme_known(const char *scheme)
{
	struct pw_name n;
	if (scheme == NULL)
		return 0;
	return scheme_parse(scheme, strlen(scheme), &n) == 0;
}

int password_scheme_creatable(const char *scheme)
{
	struct pw_name n;
	if (scheme == NULL || scheme_parse(scheme, strlen(scheme), &n) < 0)
		return 0;
	return n.scheme->creatable;
}

const char *password_scheme_name(unsigned i)
{
	return i < N_SCHEMES ? schemes[i].name : NULL;
}

/* ---- encodings ---------------------------------------------------------- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* b64_decode: standard alphabet, '=' padding optional but only at the
 * end; out must hold len * 3 / 4 + 3 bytes. 0 / -1. */
static int b64_decode(const char *s, size_t len, unsigned char *out, size_t *out_len_r)
{
	size_t pad = 0;
	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0))
		return -1;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*out_len_r = o;
	return 0;
}

static char *b64_encode(const unsigned char *p, size_t len)
{
	char *out = xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = b64_chars[(v >> 18) & 63];
		out[o++] = b64_chars[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_chars[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex_decode(const char *s, size_t len, unsigned char *out, size_t *out_len_r)
{
	if (len % 2 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value((unsigned char)s[i]);
		int lo = hex_value((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	*out_len_r = len / 2;
	return 0;
}

static bool is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (hex_value((unsigned char)s[i]) < 0)
			return false;
	}
	return true;
}

static char *hex_encode(const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *out = xmalloc(len * 2 + 1);
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[len * 2] = '\0';
	return out;
}

static size_t digest_len(enum pw_kind kind)
{
	switch (kind) {
	case PW_SSHA512:
	case PW_SHA512:
		return 64;
	case PW_SSHA256:
	case PW_SHA256:
		return 32;
	default:
		return 0;
	}
}

static const EVP_MD *digest_md(enum pw_kind kind)
{
	return digest_len(kind) == 64 ? EVP_sha512() : EVP_sha256();
}

/* digest: md(a || b) into out (EVP_MAX_MD_SIZE bytes). 0 / -1. */
static int digest(const EVP_MD *md, const void *a, size_t a_len, const void *b, size_t b_len,
                  unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	         EVP_DigestUpdate(ctx, a, a_len) == 1 && EVP_DigestUpdate(ctx, b, b_len) == 1 &&
	         EVP_DigestFinal_ex(ctx, out, &n) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int random_bytes(void *p, size_t n)
{
	unsigned char *u = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(u + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* ---- crypt family ------------------------------------------------------- */

static bool is_itoa64(unsigned char c)
{
	return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	       (c >= 'a' && c <= 'z');
}

/* parse_u32: decimal digits at *pp (at least one) into *v_r, advancing
 * *pp; -1 on no digit or overflow. */
static int parse_u32(const char **pp, uint32_t *v_r)
{
	const char *p = *pp;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
		p++;
	}
	*pp = p;
	*v_r = (uint32_t)v;
	return 0;
}

/* expect_u32: the literal key at *pp followed by a decimal number. */
static int expect_u32(const char **pp, const char *key, uint32_t *v_r)
{
	size_t n = strlen(key);
	if (strncmp(*pp, key, n) != 0)
		return -1;
	*pp += n;
	return parse_u32(pp, v_r);
}

/* hash_tail_ok: the text after the last '$' of h is want itoa64 chars. */
static bool hash_tail_ok(const char *h, size_t len, size_t want)
{
	const char *last = strrchr(h, '$');
	if (last == NULL || (size_t)(h + len - (last + 1)) != want)
		return false;
	for (const char *p = last + 1; *p != '\0'; p++) {
		if (!is_itoa64((unsigned char)*p))
			return false;
	}
	return true;
}

/* yescrypt_cost: the libxcrypt cost level (1..max) whose parameters are
 * params (the text between "$y$" and the next '$'), or -1. */
static int yescrypt_cost(const char *params, size_t len, uint32_t max)
{
	static const char zero_bytes[CRYPT_SALT_BYTES];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	if (max > YESCRYPT_COST_TOP)
		max = YESCRYPT_COST_TOP;
	for (uint32_t cost = 1; cost <= max; cost++) {
		if (crypt_gensalt_rn("$y$", cost, zero_bytes, sizeof(zero_bytes), setting,
		                     sizeof(setting)) == NULL)
			return -1;
		const char *p = setting + 3;
		const char *end = strchr(p, '$');
		if (end != NULL && (size_t)(end - p) == len && memcmp(p, params, len) == 0)
			return (int)cost;
	}
	return -1;
}

/* crypt_check: accept only the methods we bound, within the limits, and
 * only complete hashes (a bare setting would just not match). */
static int crypt_check(const char *h, size_t len, const struct password_limits *lim,
                       const char **error_r)
{
	if (h[0] != '$') {
		if (len == 13) {
			size_t i = 0;
			while (i < 13 && is_itoa64((unsigned char)h[i]))
				i++;
			if (i == 13)
				return 0; /* traditional DES */
		}
		*error_r = "malformed crypt hash: no $id$ and not a 13-character DES hash";
		return -1;
	}
	if (strncmp(h, "$1$", 3) == 0) {
		if (!hash_tail_ok(h, len, 22)) {
			*error_r = "malformed MD5-crypt hash";
			return -1;
		}
		return 0;
	}
	if (strncmp(h, "$5$", 3) == 0 || strncmp(h, "$6$", 3) == 0) {
		const char *p = h + 3;
		if (strncmp(p, "rounds=", 7) == 0) {
			uint32_t rounds;
			p += 7;
			if (parse_u32(&p, &rounds) < 0 || *p != '$') {
				*error_r = "malformed SHA-crypt hash: bad rounds=";
				return -1;
			}
			if (rounds > lim->sha_crypt_rounds_max) {
				*error_r = "SHA-crypt rounds above the limit";
				return -1;
			}
		}
		if (!hash_tail_ok(h, len, h[1] == '6' ? 86 : 43)) {
			*error_r = "malformed SHA-crypt hash";
			return -1;
		}
		return 0;
	}
	if (h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'x' || h[2] == 'y') &&
	    h[3] == '$') {
		if (!(h[4] >= '0' && h[4] <= '9' && h[5] >= '0' && h[5] <= '9' && h[6] == '$') ||
		    len != 60 || !hash_tail_ok(h, len, 53)) {
			*error_r = "malformed bcrypt hash";
			return -1;
		}
		uint32_t cost = (uint32_t)((h[4] - '0') * 10 + (h[5] - '0'));
		if (cost > lim->bcrypt_cost_max) {
			*error_r = "bcrypt cost above the limit";
			return -1;
		}
		return 0;
	}
	if (strncmp(h, "$y$", 3) == 0) {
		const char *end = strchr(h + 3, '$');
		if (end == NULL || !hash_tail_ok(h, len, 43)) {
			*error_r = "malformed yescrypt hash";
			return -1;
		}
		if (yescrypt_cost(h + 3, (size_t)(end - (h + 3)), lim->yescrypt_cost_max) < 0) {
			*error_r =
			    "yescrypt parameters are not a standard cost level within the limit";
			return -1;
		}
		return 0;
	}
	*error_r = "unsupported crypt method";
	return -1;
}

/* crypt_phrase: plain as crypt_rn() can take it for the method of
 * setting: bcrypt reads 72 bytes and DES 8, so a longer password is cut
 * there (into cut) without changing the result; for the other methods a
 * phrase of CRYPT_MAX_PASSPHRASE_SIZE bytes or more is refused (NULL). */
static const char *crypt_phrase(const char *plain, const char *setting, char *cut)
{
	size_t keep = setting[0] != '$' ? DES_KEY_MAX : setting[1] == '2' ? BCRYPT_KEY_MAX : 0;
	size_t len = strlen(plain);
	if (keep != 0 && len > keep) {
		memcpy(cut, plain, keep);
		cut[keep] = '\0';
		return cut;
	}
	return len < CRYPT_MAX_PASSPHRASE_SIZE ? plain : NULL;
}

static int crypt_verify(const char *plain, const char *h, size_t len,
                        const struct password_limits *lim, const char **error_r)
{
	if (crypt_check(h, len, lim, error_r) < 0)
		return -1;
	/* libxcrypt refuses phrases of CRYPT_MAX_PASSPHRASE_SIZE bytes and
	 * more; such a password cannot have been hashed here. */
	char cut[BCRYPT_KEY_MAX + 1];
	plain = crypt_phrase(plain, h, cut);
	if (plain == NULL)
		return 0;
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *out = crypt_rn(plain, h, cd, sizeof(*cd));
	int ret;
	if (out == NULL || out[0] == '*') {
		*error_r = "malformed crypt hash";
		ret = -1;
	} else {
		ret = strlen(out) == len && CRYPTO_memcmp(out, h, len) == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	explicit_bzero(cut, sizeof(cut));
	return ret;
}

static char *crypt_create(const char *plain, const struct pw_scheme *s, unsigned rounds,
                          const char **error_r)
{
	bool bcrypt = s->crypt_prefix[1] == '2';
	unsigned long count;
	if (bcrypt) {
		count = rounds == 0 ? BCRYPT_COST_DEFAULT : rounds;
		if (count < BCRYPT_COST_MIN || count > password_default_limits.bcrypt_cost_max) {
			*error_r = "bcrypt cost must be 4..16";
			return NULL;
		}
	} else {
		count = rounds;
		if (rounds != 0 && (rounds < SHA_CRYPT_ROUNDS_MIN ||
		                    rounds > password_default_limits.sha_crypt_rounds_max)) {
			*error_r = "SHA-crypt rounds must be 1000..5000000";
			return NULL;
		}
	}
	unsigned char rnd[CRYPT_SALT_BYTES];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	if (random_bytes(rnd, sizeof(rnd)) < 0) {
		*error_r = "getrandom failed";
		return NULL;
	}
	if (crypt_gensalt_rn(s->crypt_prefix, count, (const char *)rnd, sizeof(rnd), setting,
	                     sizeof(setting)) == NULL) {
		*error_r = "crypt_gensalt failed";
		return NULL;
	}
	char cut[BCRYPT_KEY_MAX + 1];
	plain = crypt_phrase(plain, setting, cut);
	if (plain == NULL) {
		*error_r = "password too long for crypt (511 bytes at most)";
		return NULL;
	}
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *out = crypt_rn(plain, setting, cd, sizeof(*cd));
	char *ret = NULL;
	if (out == NULL || out[0] == '*')
		*error_r = "crypt failed";
	else
		ret = xstrdup(out);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	explicit_bzero(cut, sizeof(cut));
	return ret;
}

/* ---- argon2 ------------------------------------------------------------- */

/* argon2_check: "$argon2id$[v=N$]m=M,t=T,p=P$salt$hash" of the scheme's
 * type, parameters within the limits; salt and hash are left to
 * libargon2's decoder. */
static int argon2_check(const char *h, argon2_type type, const struct password_limits *lim,
                        const char **error_r)
{
	const char *prefix = type == Argon2_id ? "$argon2id$" : "$argon2i$";
	uint32_t m, t, p, v;
	if (strncmp(h, prefix, strlen(prefix)) != 0) {
		*error_r = type == Argon2_id ? "malformed argon2 string: no $argon2id$"
		                             : "malformed argon2 string: no $argon2i$";
		return -1;
	}
	const char *s = h + strlen(prefix);
	if (strncmp(s, "v=", 2) == 0) {
		s += 2;
		if (parse_u32(&s, &v) < 0 || *s != '$') {
			*error_r = "malformed argon2 string: bad v=";
			return -1;
		}
		s++;
	}
	if (expect_u32(&s, "m=", &m) < 0 || expect_u32(&s, ",t=", &t) < 0 ||
	    expect_u32(&s, ",p=", &p) < 0 || *s != '$') {
		*error_r = "malformed argon2 string: bad m=,t=,p=";
		return -1;
	}
	if (m > lim->argon2_m_kib_max || t > lim->argon2_t_max || p > lim->argon2_p_max) {
		*error_r = "argon2 parameters above the limit";
		return -1;
	}
	return 0;
}

static int argon2_verify_str(const char *plain, size_t plain_len, const char *h, argon2_type type,
                             const struct password_limits *lim, const char **error_r)
{
	if (argon2_check(h, type, lim, error_r) < 0)
		return -1;
	int rc = argon2_verify(h, plain, plain_len, type);
	if (rc == ARGON2_OK)
		return 1;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return 0;
	*error_r = argon2_error_message(rc);
	return -1;
}

static char *argon2_create(const char *plain, size_t plain_len, argon2_type type, unsigned rounds,
                           const char **error_r)
{
	/* What Dovecot gets from libsodium's defaults (doveadm pw). */
	uint32_t m = type == Argon2_id ? 65536 : 32768;
	uint32_t t = type == Argon2_id ? 3 : 4;
	const uint32_t p = 1;
	if (rounds != 0) {
		if (rounds > password_default_limits.argon2_t_max) {
			*error_r = "argon2 rounds (t) must be 1..64";
			return NULL;
		}
		t = rounds;
	}
	unsigned char salt[ARGON2_SALT_BYTES];
	if (random_bytes(salt, sizeof(salt)) < 0) {
		*error_r = "getrandom failed";
		return NULL;
	}
	size_t len = argon2_encodedlen(t, m, p, sizeof(salt), ARGON2_HASH_BYTES, type);
	char *out = xmalloc(len);
	int rc = argon2_hash(t, m, p, plain, plain_len, salt, sizeof(salt), NULL, ARGON2_HASH_BYTES,
	                     out, len, type, ARGON2_VERSION_13);
	if (rc != ARGON2_OK) {
		*error_r = argon2_error_message(rc);
		free(out);
		return NULL;
	}
	return out;
}

/* ---- verify ------------------------------------------------------------- */

/* decode_data: the raw bytes of data under enc, malloc'd and
 * NUL-terminated in *raw_r. -1 when data is not valid in enc. */
static int decode_data(const struct pw_name *n, const char *data, unsigned char **raw_r,
                       size_t *raw_len_r)
{
	size_t len = strlen(data);
	enum pw_encoding enc = n->enc;
	size_t dlen = digest_len(n->scheme->kind);
	/* Dovecot reads an unsalted digest of hex length as hex. */
	if (n->enc_name == NULL && enc == ENC_BASE64 &&
	    (n->scheme->kind == PW_SHA512 || n->scheme->kind == PW_SHA256) && len == dlen * 2 &&
	    is_hex(data, len))
		enc = ENC_HEX;
	unsigned char *raw = xmalloc(len + 4);
	int rc = 0;
	*raw_len_r = 0;
	switch (enc) {
	case ENC_NONE:
		memcpy(raw, data, len);
		*raw_len_r = len;
		break;
	case ENC_BASE64:
		rc = b64_decode(data, len, raw, raw_len_r);
		break;
	case ENC_HEX:
		rc = hex_decode(data, len, raw, raw_len_r);
		break;
	}
	if (rc < 0) {
		free(raw);
		return -1;
	}
	raw[*raw_len_r] = '\0';
	*raw_r = raw;
	return 0;
}

static int verify_raw(const char *plain, size_t plain_len, const struct pw_scheme *s,
                      const unsigned char *raw, size_t raw_len, const struct password_limits *lim,
                      const char **error_r)
{
	unsigned char md[EVP_MAX_MD_SIZE], md2[EVP_MAX_MD_SIZE];
	size_t dlen = digest_len(s->kind);
	int ret;

	/* The text schemes must not carry a NUL after decoding. */
	if ((s->kind == PW_CRYPT || s->kind == PW_ARGON2ID || s->kind == PW_ARGON2I) &&
	    memchr(raw, '\0', raw_len) != NULL) {
		*error_r = "malformed stored password: NUL byte";
		return -1;
	}
	switch (s->kind) {
	case PW_CRYPT:
		return crypt_verify(plain, (const char *)raw, raw_len, lim, error_r);
	case PW_ARGON2ID:
		return argon2_verify_str(plain, plain_len, (const char *)raw, Argon2_id, lim,
		                         error_r);
	case PW_ARGON2I:
		return argon2_verify_str(plain, plain_len, (const char *)raw, Argon2_i, lim,
		                         error_r);
	case PW_SSHA512:
	case PW_SSHA256:
		if (raw_len <= dlen) {
			*error_r = s->kind == PW_SSHA512 ? "SSHA512 data too short"
			                                 : "SSHA256 data too short";
			return -1;
		}
		if (digest(digest_md(s->kind), plain, plain_len, raw + dlen, raw_len - dlen, md) <
		    0) {
			*error_r = "digest failed";
			return -1;
		}
		ret = CRYPTO_memcmp(md, raw, dlen) == 0;
		break;
	case PW_SHA512:
	case PW_SHA256:
		if (raw_len != dlen) {
			*error_r = s->kind == PW_SHA512 ? "SHA512 data has the wrong length"
			                                : "SHA256 data has the wrong length";
			return -1;
		}
		if (digest(digest_md(s->kind), plain, plain_len, "", 0, md) < 0) {
			*error_r = "digest failed";
			return -1;
		}
		ret = CRYPTO_memcmp(md, raw, dlen) == 0;
		break;
	case PW_PLAIN:
		/* Compare digests: constant time, and no length leaks. */
		if (digest(EVP_sha256(), plain, plain_len, "", 0, md) < 0 ||
		    digest(EVP_sha256(), raw, raw_len, "", 0, md2) < 0) {
			*error_r = "digest failed";
			return -1;
		}
		ret = CRYPTO_memcmp(md, md2, 32) == 0;
		explicit_bzero(md2, sizeof(md2));
		break;
	default:
		*error_r = "unknown password scheme";
		return -1;
	}
	explicit_bzero(md, sizeof(md));
	return ret;
}

int password_verify_limits(const char *plain, const char *stored, const struct password_limits *lim,
                           const char **error_r)
{
	struct pw_name n;
	const char *data = stored;

	if (plain == NULL || stored == NULL) {
		*error_r = "no password";
		return -1;
	}
	if (stored[0] == '{') {
		size_t max = strnlen(stored, SCHEME_PREFIX_MAX);
		const char *close = memchr(stored, '}', max);
		if (close == NULL) {
			*error_r = "malformed stored password: '{' without '}'";
			return -1;
		}
		if (scheme_parse(stored + 1, (size_t)(close - stored - 1), &n) < 0) {
			*error_r = "unknown password scheme";
			return -1;
		}
		data = close + 1;
	} else if (scheme_parse(PASSWORD_DEFAULT_SCHEME, strlen(PASSWORD_DEFAULT_SCHEME), &n) < 0) {
		assert(!"the default scheme is in the table");
		*error_r = "unknown password scheme";
		return -1;
	}
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	if (decode_data(&n, data, &raw, &raw_len) < 0) {
		*error_r = n.enc == ENC_HEX ? "malformed stored password: bad hex"
		                            : "malformed stored password: bad base64";
		return -1;
	}
	int ret;
	if (raw_len == 0 && n.scheme->kind != PW_PLAIN) {
		*error_r = "empty stored password";
		ret = -1;
	} else {
		size_t plain_len = strnlen(plain, PASSWORD_MAX_LEN + 1);
		if (plain_len > PASSWORD_MAX_LEN)
			ret = 0; /* too long: never matches */
		else
			ret = verify_raw(plain, plain_len, n.scheme, raw, raw_len, lim, error_r);
	}
	explicit_bzero(raw, raw_len);
	free(raw);
	return ret;
}

int password_verify(const char *plain, const char *stored, const char **error_r)
{
	return password_verify_limits(plain, stored, &password_default_limits, error_r);
}

/* ---- create ------------------------------------------------------------- */

char *password_hash_rounds(const char *plain, const char *scheme, unsigned rounds,
                           const char **error_r)
{
	struct pw_name n;
	if (plain == NULL || scheme == NULL) {
		*error_r = "no password";
		return NULL;
	}
	if (scheme_parse(scheme, strlen(scheme), &n) < 0) {
		*error_r = "unknown password scheme";
		return NULL;
	}
	if (!n.scheme->creatable) {
		*error_r = "this scheme can only be verified, not created";
		return NULL;
	}
	size_t plain_len = strnlen(plain, PASSWORD_MAX_LEN + 1);
	if (plain_len > PASSWORD_MAX_LEN) {
		*error_r = "password too long";
		return NULL;
	}

	/* raw: the scheme's bytes before the encoding. */
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	char *text = NULL;
	switch (n.scheme->kind) {
	case PW_CRYPT:
		text = crypt_create(plain, n.scheme, rounds, error_r);
		break;
	case PW_ARGON2ID:
	case PW_ARGON2I:
		text = argon2_create(plain, plain_len,
		                     n.scheme->kind == PW_ARGON2ID ? Argon2_id : Argon2_i, rounds,
		                     error_r);
		break;
	case PW_SSHA512:
	case PW_SSHA256: {
		if (rounds != 0) {
			*error_r = "this scheme has no rounds";
			return NULL;
		}
		size_t dlen = digest_len(n.scheme->kind);
		raw_len = dlen + SSHA_SALT_BYTES;
		raw = xmalloc(raw_len);
		if (random_bytes(raw + dlen, SSHA_SALT_BYTES) < 0) {
			*error_r = "getrandom failed";
			free(raw);
			return NULL;
		}
		unsigned char md[EVP_MAX_MD_SIZE];
		if (digest(digest_md(n.scheme->kind), plain, plain_len, raw + dlen, SSHA_SALT_BYTES,
		           md) < 0) {
			*error_r = "digest failed";
			free(raw);
			return NULL;
		}
		memcpy(raw, md, dlen);
		explicit_bzero(md, sizeof(md));
		break;
	}
	default:
		*error_r = "this scheme can only be verified, not created";
		return NULL;
	}
	if (text != NULL) {
		raw = (unsigned char *)text;
		raw_len = strlen(text);
	}
	if (raw == NULL)
		return NULL;

	char *enc;
	switch (n.enc) {
	case ENC_BASE64:
		enc = b64_encode(raw, raw_len);
		break;
	case ENC_HEX:
		enc = hex_encode(raw, raw_len);
		break;
	default:
		enc = xstrndup((const char *)raw, raw_len);
		break;
	}
	free(raw);
	char *out = xasprintf("{%s%s%s}%s", n.scheme->name, n.enc_name != NULL ? "." : "",
	                      n.enc_name != NULL ? n.enc_name : "", enc);
	free(enc);
	return out;
}

char *password_hash(const char *plain, const char *scheme, const char **error_r)
{
	return password_hash_rounds(plain, scheme, 0, error_r);
}
