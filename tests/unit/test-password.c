/*
 * test-password.c - password schemes: known vectors (from doveadm pw of
 * Dovecot 2.3.19, the SHA-crypt specification, the OpenBSD bcrypt and the
 * argon2 reference test sets), create/verify round trips, wrong
 * passwords, the no-prefix default, malformed strings, work limits,
 * overlong input, case-insensitive names and concurrent use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/password.h"

struct vector {
	const char *stored;
	const char *plain;
};

/* Made with `doveadm -c /dev/null pw -s SCHEME -p PASSWORD`. */
static const struct vector doveadm_vectors[] = {
    {"{SHA512-CRYPT}$6$E8G.kgkmGRUWVZzM$GdbhSu0qIy6nhnCfdLiE6RoLtceAwUnfTyfafMuqVWfR0G45Xn3tsp7"
     "ApX/Fpvvr9fzZtH.D3PDV7lIH8wyM10",
     "test"},
    {"{SHA256-CRYPT}$5$zyXp43ETvost7buy$nDVMdwADmlXWMh5mfyMMp5/yQdTzvn9sk1vjM8iDFgD", "test"},
    {"{BLF-CRYPT}$2y$05$NEPMD362I8jJyYbdvp4TI.jlSPpVe/pgFuWa4Z0whAPam.1IZajOW", "test"},
    {"{CRYPT}$2y$05$yrKCr1wBFM7bkVKoV5YyOutqNBoZ.NTJCfj5MNEe41UQ2SOK8sALO", "test"},
    {"{DES-CRYPT}OWA0KmITN6rjE", "test"},
    {"{MD5-CRYPT}$1$kMaUUi/M$1KXOOH8pnDWvek31bXKQ50", "test"},
    {"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/tTknUIi5MOYw7m"
     "XZuy+tcp58ykFY1u4",
     "test"},
    {"{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$CB/1uBKqOoHtDNJa/5w0sQ$k2dZNn7/dOwhfzmDAHUKhjQRyKsG"
     "H9S01YVenNWIDSo",
     "test"},
    {"{SSHA512}Joz7J6srjeMN8Tuk0Z/ED7viYmHzyYgnDmNYMhuHvvpUx4xb1qKTbaswBHr2pynhTTQKOLvt0ZhOrAMOYf"
     "riC9lduY4=",
     "test"},
    {"{SSHA256}HlP4lTd+TzGETY2ikiL7VPOgXXGCPbdNFjJQjiH7xOJ/2v8V", "test"},
    {"{SSHA512.HEX}a5e992d97ee358aace73abd3592f2d86fcf33a684a0f77bbeddf73ccdf670988cc1d09cb00ec80"
     "176bab9fe173e8017a6ab6272fca5a8a79196af1caac813892879631e4",
     "test"},
    {"{SSHA256.B64}Yc37Oco7DctILHlXgDW4d8KYad/w3K6um6slbj6ET+CzuiQt", "test"},
    {"{SHA512}7iaw3Ur350mqGo7jwQrpkj9hiYB3Lkc/iBml1JQODbJ6wYX4oOHV+E+IvIh/1nsUNzLDBMxfqa2Ob1f1AC"
     "io/w==",
     "test"},
    {"{SHA256}n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", "test"},
    {"{SHA256.HEX}9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "test"},
    /* Dovecot reads a digest of hex length as hex without the suffix. */
    {"{SHA256}9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "test"},
    {"{PLAIN}test", "test"},
    {"{PLAIN.B64}dGVzdA==", "test"},
    {"{PLAIN.HEX}74657374", "test"},
    {"{CLEARTEXT}test", "test"},
    {"{CLEAR}test", "test"},
    {"{SHA512-CRYPT}$6$rounds=6000$Y4xAH9fQWunwWHq5$NR3Ti51iEiwzXalisp0nak.aeBDUDOtIjMZ6E9dK5cZj0"
     "DghK/ROt1eDxgn9D5I7481QXgVY/ybmxnnhCjkCp0",
     "test"},
    {"{SHA256-CRYPT}$5$rounds=1000$SD8reK.5MhCCkaSI$8LHLWyKweZJdsnnNFHseFcHBKhdG8vJGvSmA68yn2p2",
     "test"},
    {"{BLF-CRYPT}$2y$04$RLwiBTTHc7uXLFgvIl/U/O8l.mi9q2qp5qeW25cgRCKl0tMxXuOwK",
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {"{SHA512-CRYPT}$6$.vSaR5KJxU.ZgWS9$uUCaVZo6L2f6RG/zodow1NwuqW1hKDY17bQA2xB0ztRBX3hRSFv4IYNLZ"
     "314NaJ6V26NY525bJ2NCKR80b3Hv0",
     "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    {"{SHA256-CRYPT}$5$792m.8PfN3wD2q1W$icztcnTISXkYZdISheZTe9tgpH360TpCTuyVHcSNq3D",
     "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    {"{BLF-CRYPT}$2y$05$QIwRy9ss129qNVHfiWjPfODCJ9Y37lJqSjzN3U91IvXJfksFD6Fg2",
     "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    {"{DES-CRYPT}yHktpIBDfQkxk", "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    {"{MD5-CRYPT}$1$6jSrR5yH$Z7NKHbVW1XU2mc1P9qes60", "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    {"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$TIW6Rvxv7AoiUKMCGo/JEg$U2q67/T7smjsH5JDggdwcKBKIwH"
     "lf8bYZWDPfGGjCOM",
     "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    {"{SSHA512}5W8JhScemrfLhI2cRQmlP4GmXv84uJ0V+f+Eg2JOzQ6DWG5HFxcgSKDmvraqkWWA9//zNvFuAtFY1dIJBi"
     "CQ0K0uDbQ=",
     "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    {"{SSHA256}dYE+lYBCy4JEGOLRRYlONOoaC3LNCFFx4bWAU59y54TMiPfJ", "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    {"{SHA512}JLv8ZrGEV6cRTjzkEFCDV0FNVAOitTRukFkVM7gA9WS4azZIaGHkOAgEHCLJlBFyutW52NGixE+V8IoVcYj"
     "IAw==",
     "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    {"{PLAIN.B64}UGE1NSB3w7ZyZCHigqw=", "Pa55 w\xc3\xb6rd!\xe2\x82\xac"},
    /* The guide's accounts.password without a prefix: SHA512-CRYPT. */
    {"$6$E8G.kgkmGRUWVZzM$GdbhSu0qIy6nhnCfdLiE6RoLtceAwUnfTyfafMuqVWfR0G45Xn3tsp7ApX/Fpvvr9fzZtH."
     "D3PDV7lIH8wyM10",
     "test"},
};

/* Published vectors: the SHA-crypt specification (U. Drepper), the
 * OpenBSD/crypt_blowfish bcrypt set, the argon2 reference test.c,
 * FIPS 180-2 "abc"; yescrypt made by libxcrypt (regression only). */
static const struct vector spec_vectors[] = {
    {"{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!"},
    {"{SHA256-CRYPT}$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
     "Hello world!"},
    {"{SHA256-CRYPT}$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5",
     "This is just a test"},
    {"{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLi"
     "BFdcbYEdFCoEOfaS35inz1",
     "Hello world!"},
    {"{SHA512-CRYPT}$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnC"
     "M/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
     "Hello world!"},
    {"{SHA512-CRYPT}$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwll"
     "F7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
     "This is just a test"},
    {"{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
    {"{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK", "U*U*"},
    {"{BLF-CRYPT}$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a", "U*U*U"},
    {"{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy", ""},
    {"{BLF-CRYPT}$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
     "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are "
     "ignored"},
    /* $2b$ and $2y$ are the same algorithm for these inputs. */
    {"{BLF-CRYPT}$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
    {"{BLF-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
    {"{ARGON2I}$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeB"
     "btA",
     "password"},
    {"{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2"
     "GRPPc",
     "password"},
    {"{SHA256.HEX}ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc"},
    {"{SHA512.HEX}ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a8"
     "36ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "abc"},
    {"{CRYPT}$y$j9T$pu5LeowTZGXX5fMu5ADh81$aKZ0EgUl9UZY/tK5hLB9ufeq02LckesPMD9U8Olrax7", "test"},
    {"{CRYPT}$y$j75$FNkwxXoa5k7LQFWBIUXYN/$5YftjEkuFfVjebKRuSZ4luw3pYcbqXBh9tiWoGuDXk0", "test"},
};

static void check_vectors(const struct vector *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *error = NULL;
		int rc = password_verify(v[i].plain, v[i].stored, &error);
		if (rc != 1)
			print_error("vector %zu %s: rc=%d error=%s\n", i, v[i].stored, rc,
			            error ? error : "-");
		assert_int_equal(rc, 1);

		char *wrong = malloc(strlen(v[i].plain) + 2);
		assert_non_null(wrong);
		/* One byte changed, one byte appended, and an unrelated word. */
		strcpy(wrong, v[i].plain);
		if (wrong[0] != '\0') {
			wrong[0] ^= 1;
			assert_int_equal(password_verify(wrong, v[i].stored, &error), 0);
			wrong[0] ^= 1;
		}
		/* DES-crypt looks at 8 bytes and bcrypt at 72 only. */
		if (strlen(v[i].plain) < 8) {
			strcat(wrong, "x");
			assert_int_equal(password_verify(wrong, v[i].stored, &error), 0);
		}
		assert_int_equal(password_verify("wrong password", v[i].stored, &error), 0);
		free(wrong);
	}
}

static void test_doveadm_vectors(void **state)
{
	(void)state;
	check_vectors(doveadm_vectors, sizeof(doveadm_vectors) / sizeof(doveadm_vectors[0]));
}

static void test_spec_vectors(void **state)
{
	(void)state;
	check_vectors(spec_vectors, sizeof(spec_vectors) / sizeof(spec_vectors[0]));
}

/* Every creatable scheme: the prefix and shape doveadm writes, verify
 * round trip, a fresh salt each time. */
static void test_roundtrip(void **state)
{
	static const struct {
		const char *scheme;
		const char *prefix;
	} t[] = {
	    {"SHA512-CRYPT", "{SHA512-CRYPT}$6$"},
	    {"SHA256-CRYPT", "{SHA256-CRYPT}$5$"},
	    {"BLF-CRYPT", "{BLF-CRYPT}$2y$05$"},
	    {"CRYPT", "{CRYPT}$2y$05$"},
	    {"ARGON2ID", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$"},
	    {"ARGON2I", "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$"},
	    {"SSHA512", "{SSHA512}"},
	    {"SSHA256", "{SSHA256}"},
	    {"SSHA512.HEX", "{SSHA512.HEX}"},
	    {"SSHA256.B64", "{SSHA256.B64}"},
	    {"sha512-crypt.base64", "{SHA512-CRYPT.BASE64}"},
	    {"blf-crypt.hex", "{BLF-CRYPT.HEX}"},
	};
	static const char *plains[] = {"test", "Pa55 w\xc3\xb6rd!\xe2\x82\xac", "", "{PLAIN}x\n"};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (size_t k = 0; k < sizeof(plains) / sizeof(plains[0]); k++) {
			const char *error = NULL;
			/* argon2 takes 32-64 MiB a run: two passwords suffice. */
			if (strncmp(t[i].scheme, "ARGON2", 6) == 0 && k >= 2)
				continue;
			char *h1 = password_hash(plains[k], t[i].scheme, &error);
			char *h2 = password_hash(plains[k], t[i].scheme, &error);
			assert_non_null(h1);
			assert_non_null(h2);
			if (strncmp(h1, t[i].prefix, strlen(t[i].prefix)) != 0)
				print_error("%s made %s\n", t[i].scheme, h1);
			assert_int_equal(strncmp(h1, t[i].prefix, strlen(t[i].prefix)), 0);
			assert_string_not_equal(h1, h2);
			assert_true(password_scheme_creatable(t[i].scheme));
			assert_true(password_scheme_known(t[i].scheme));
			assert_int_equal(password_verify(plains[k], h1, &error), 1);
			assert_int_equal(password_verify(plains[k], h2, &error), 1);
			assert_int_equal(password_verify("nope", h1, &error), 0);
			free(h1);
			free(h2);
		}
	}
}

/* The shapes Dovecot writes, byte for byte where the length is fixed. */
static void test_created_shape(void **state)
{
	const char *error = NULL;
	char *h;
	(void)state;
	h = password_hash("test", "SHA512-CRYPT", &error);
	/* {SHA512-CRYPT} $6$ 16-char salt $ 86-char hash */
	assert_int_equal(strlen(h), 14 + 3 + 16 + 1 + 86);
	free(h);
	h = password_hash("test", "SHA256-CRYPT", &error);
	assert_int_equal(strlen(h), 14 + 3 + 16 + 1 + 43);
	free(h);
	h = password_hash("test", "BLF-CRYPT", &error);
	assert_int_equal(strlen(h), 11 + 60);
	free(h);
	h = password_hash("test", "SSHA512", &error);
	/* base64 of 64-byte digest + 8-byte salt */
	assert_int_equal(strlen(h), 9 + 96);
	free(h);
	h = password_hash("test", "SSHA256.HEX", &error);
	assert_int_equal(strlen(h), 13 + 2 * (32 + 8));
	free(h);
	h = password_hash("test", "ARGON2ID", &error);
	/* 16-byte salt (22 chars), 32-byte hash (43 chars), no padding */
	assert_int_equal(strlen(h),
	                 strlen("{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$") + 22 + 1 + 43);
	free(h);
	assert_string_equal(PASSWORD_DEFAULT_SCHEME, "SHA512-CRYPT");
}

static void test_rounds(void **state)
{
	const char *error = NULL;
	char *h;
	(void)state;
	h = password_hash_rounds("test", "SHA512-CRYPT", 10000, &error);
	assert_non_null(h);
	assert_int_equal(strncmp(h, "{SHA512-CRYPT}$6$rounds=10000$", 30), 0);
	assert_int_equal(password_verify("test", h, &error), 1);
	free(h);
	h = password_hash_rounds("test", "SHA256-CRYPT", 1000, &error);
	assert_non_null(h);
	assert_int_equal(strncmp(h, "{SHA256-CRYPT}$5$rounds=1000$", 29), 0);
	assert_int_equal(password_verify("test", h, &error), 1);
	free(h);
	h = password_hash_rounds("test", "BLF-CRYPT", 4, &error);
	assert_non_null(h);
	assert_int_equal(strncmp(h, "{BLF-CRYPT}$2y$04$", 18), 0);
	assert_int_equal(password_verify("test", h, &error), 1);
	free(h);
	h = password_hash_rounds("test", "ARGON2ID", 1, &error);
	assert_non_null(h);
	assert_non_null(strstr(h, "$m=65536,t=1,p=1$"));
	assert_int_equal(password_verify("test", h, &error), 1);
	free(h);

	assert_null(password_hash_rounds("test", "SHA512-CRYPT", 999, &error));
	assert_null(password_hash_rounds("test", "SHA512-CRYPT", 5000001, &error));
	assert_null(password_hash_rounds("test", "BLF-CRYPT", 3, &error));
	assert_null(password_hash_rounds("test", "BLF-CRYPT", 17, &error));
	assert_null(password_hash_rounds("test", "ARGON2ID", 65, &error));
	error = NULL;
	assert_null(password_hash_rounds("test", "SSHA512", 5, &error));
	assert_non_null(error);
}

static void test_not_creatable(void **state)
{
	static const char *verify_only[] = {"PLAIN",  "CLEAR",     "CLEARTEXT", "SHA512",
	                                    "SHA256", "DES-CRYPT", "MD5-CRYPT", "plain.b64"};
	static const char *unknown[] = {"FOO",           "",     "SHA512-CRYPT.ROT13",
	                                "SHA512-CRYPTX", "SSHA", "PLAIN-TRUSTED",
	                                "SHA512-CRYPT.", ".HEX"};
	const char *error;
	(void)state;
	for (size_t i = 0; i < sizeof(verify_only) / sizeof(verify_only[0]); i++) {
		error = NULL;
		assert_null(password_hash("test", verify_only[i], &error));
		assert_non_null(error);
		assert_true(password_scheme_known(verify_only[i]));
		assert_false(password_scheme_creatable(verify_only[i]));
	}
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		error = NULL;
		assert_null(password_hash("test", unknown[i], &error));
		assert_non_null(error);
		assert_false(password_scheme_known(unknown[i]));
		assert_false(password_scheme_creatable(unknown[i]));
	}
	assert_false(password_scheme_known(NULL));
	unsigned n = 0;
	while (password_scheme_name(n) != NULL)
		n++;
	assert_true(n >= 15);
}

static void test_case_insensitive(void **state)
{
	const char *error = NULL;
	(void)state;
	assert_int_equal(
	    password_verify(
	        "test",
	        "{sha512-crypt}$6$E8G.kgkmGRUWVZzM$GdbhSu0qIy6nhnCfdLiE6RoLtceAwUnfTyfaf"
	        "MuqVWfR0G45Xn3tsp7ApX/Fpvvr9fzZtH.D3PDV7lIH8wyM10",
	        &error),
	    1);
	assert_int_equal(
	    password_verify("test", "{Ssha256.b64}Yc37Oco7DctILHlXgDW4d8KYad/w3K6um6slbj6ET+CzuiQt",
	                    &error),
	    1);
	assert_int_equal(password_verify("test", "{plain.hex}74657374", &error), 1);
	assert_int_equal(password_verify("test", "{Plain}test", &error), 1);
	/* The scheme name is case-insensitive, the data is not. */
	assert_int_equal(password_verify("TEST", "{PLAIN}test", &error), 0);
	assert_true(password_scheme_known("blf-crypt"));
	assert_true(password_scheme_known("Argon2Id"));
	char *h = password_hash("test", "ssha512.hex", &error);
	assert_non_null(h);
	assert_int_equal(strncmp(h, "{SSHA512.HEX}", 13), 0);
	free(h);
	h = password_hash("test", "argon2id", &error);
	assert_non_null(h);
	assert_int_equal(strncmp(h, "{ARGON2ID}$argon2id$", 20), 0);
	free(h);
}

/* No prefix: SHA512-CRYPT, whose verifier (like Dovecot's) takes every
 * supported crypt method. */
static void test_no_prefix(void **state)
{
	const char *error = NULL;
	(void)state;
	assert_int_equal(
	    password_verify("Hello world!",
	                    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uB"
	                    "nIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	                    &error),
	    1);
	assert_int_equal(
	    password_verify("U*U", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	                    &error),
	    1);
	assert_int_equal(password_verify("test", "$1$kMaUUi/M$1KXOOH8pnDWvek31bXKQ50", &error), 1);
	assert_int_equal(password_verify("nope", "$1$kMaUUi/M$1KXOOH8pnDWvek31bXKQ50", &error), 0);
	/* A crypt name in braces takes any crypt method, as in Dovecot. */
	assert_int_equal(
	    password_verify(
	        "U*U", "{SHA512-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	        &error),
	    1);
	/* Without a prefix the string is never read as plain text. */
	error = NULL;
	assert_int_equal(password_verify("test", "test", &error), -1);
	assert_non_null(error);

	char *h = password_hash("secret", PASSWORD_DEFAULT_SCHEME, &error);
	assert_non_null(h);
	const char *bare = strchr(h, '}') + 1;
	assert_int_equal(password_verify("secret", bare, &error), 1);
	assert_int_equal(password_verify("Secret", bare, &error), 0);
	free(h);
}

static void test_malformed(void **state)
{
	static const char *bad[] = {
	    "",
	    "{",
	    "{SHA512-CRYPT",
	    "{}abc",
	    "{NOSUCH}abc",
	    "{SHA512-CRYPT.ROT13}$6$abc$def",
	    "{SHA512-CRYPT}",
	    "{SHA512-CRYPT}ab",
	    "{SHA512-CRYPT}$6$",
	    "{SHA512-CRYPT}$6$saltstring",
	    "{SHA512-CRYPT}$6$saltstring$",
	    "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl",
	    "{SHA512-CRYPT}$6$rounds=$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
	    "O817G3uBnIFNjnQJ"
	    "uesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	    "{SHA512-CRYPT}$6$rounds=99999999999$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
	    "O817G3"
	    "uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	    "{SHA512-CRYPT}$6$rounds=10$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
	    "O817G3uBnIFNjnQJ"
	    "uesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	    "{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc",
	    "{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWE!5",
	    "{BLF-CRYPT}$2y$05$short",
	    "{BLF-CRYPT}$2y$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	    "{BLF-CRYPT}$2y$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	    "{BLF-CRYPT}$2z$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	    "{BLF-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
	    "{BLF-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW$",
	    "{BLF-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC",
	    "{CRYPT}$y$j9T$pu5LeowTZGXX5fMu5ADh81$",
	    "{CRYPT}$y$zzz$pu5LeowTZGXX5fMu5ADh81$aKZ0EgUl9UZY/tK5hLB9ufeq02LckesPMD9U8Olrax7",
	    "{CRYPT}$7$CU..../....SiEV8hzHdtWxeEDQZWgcP0$aKZ0EgUl9UZY/"
	    "tK5hLB9ufeq02LckesPMD9U8Olrax7",
	    "{CRYPT}_J9..6yo4abcdefghijk",
	    "{CRYPT}$sha1$40000$abcdefgh$ABCDEFGHIJKLMNOPQRSTUVWXYZab",
	    "{CRYPT}*0",
	    "{CRYPT}!$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
	    "O817G3uBnIFNjnQJuesI68u4OTLiBFdc"
	    "bYEdFCoEOfaS35inz1",
	    "{DES-CRYPT}OWA0KmITN6rj",
	    "{DES-CRYPT}OWA0KmITN6rj!",
	    "{MD5-CRYPT}$1$kMaUUi/M$1KXOOH8pnDWvek31bXKQ5",
	    "{MD5-CRYPT}$1$kMaUUi/M",
	    "{ARGON2ID}",
	    "{ARGON2ID}$argon2id$",
	    "{ARGON2ID}$argon2i$v=19$m=32768,t=4,p=1$CB/1uBKqOoHtDNJa/5w0sQ$k2dZNn7/"
	    "dOwhfzmDAHUKhjQRyKs"
	    "GH9S01YVenNWIDSo",
	    "{ARGON2I}$argon2id$v=19$m=65536,t=3,p=1$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7mXZ"
	    "uy+tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7mXZuy+"
	    "tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$6mysinrgd8JVgQTa9xFcWA",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$6mysinrgd8JVgQTa9xFcWA$",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$$x0XFP9Y/HTJ/tTknUIi5MOYw7mXZuy+tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$6my$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7mXZuy+tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$6mysinrgd8JVgQTa9xFcWA$x0X",
	    "{ARGON2ID}$argon2id$v=19$m=1,t=3,p=1$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7mXZuy+"
	    "tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=0,p=1$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7mX"
	    "Zuy+tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=0$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7mX"
	    "Zuy+tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=99999999999,t=3,p=1$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5M"
	    "OYw7mXZuy+tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=x$m=65536,t=3,p=1$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7mXZ"
	    "uy+tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7mXZ"
	    "uy+tcp58ykFY1u4$extra",
	    "{SSHA512}",
	    "{SSHA512}AAAA",
	    "{SSHA512}7iaw3Ur350mqGo7jwQrpkj9hiYB3Lkc/iBml1JQODbJ6wYX4oOHV+E+IvIh/"
	    "1nsUNzLDBMxfqa2Ob1f1ACi"
	    "o/w==",
	    "{SSHA512}Joz7J6srjeMN8Tuk0Z/"
	    "ED7viYmHzyYgnDmNYMhuHvvpUx4xb1qKTbaswBHr2pynhTTQKOLvt0ZhOrAMOYfr"
	    "iC9lduY4=====",
	    "{SSHA512}Joz7J6srjeMN8Tuk0Z/"
	    "ED7viYmHzy*gnDmNYMhuHvvpUx4xb1qKTbaswBHr2pynhTTQKOLvt0ZhOrAMOYfr"
	    "iC9lduY4=",
	    "{SSHA256}HlP4lTd+TzGETY2ikiL7VPOgXXGCPbdNFjJQjiH7xOI=",
	    "{SSHA256.HEX}HlP4lTd+TzGETY2ikiL7VPOgXXGCPbdNFjJQjiH7xOJ/2v8V",
	    "{SSHA256.HEX}abc",
	    "{SHA256}n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCg==",
	    "{SHA256}n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCggA",
	    "{SHA512}",
	    "{PLAIN.HEX}7465737",
	    "{PLAIN.B64}d",
	    "{CRYPT.HEX}00",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;
		int rc = password_verify("test", bad[i], &error);
		if (rc != -1 || error == NULL)
			print_error("bad %zu %s: rc=%d\n", i, bad[i], rc);
		assert_int_equal(rc, -1);
		assert_non_null(error);
		assert_true(strlen(error) > 0);
	}
	const char *error = NULL;
	assert_int_equal(password_verify(NULL, "{PLAIN}x", &error), -1);
	assert_int_equal(password_verify("x", NULL, &error), -1);
}

static void test_limits(void **state)
{
	static const char *over[] = {
	    "{SHA512-CRYPT}$6$rounds=5000001$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
	    "O817G3uBn"
	    "IFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	    "{SHA256-CRYPT}$5$rounds=999999999$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/"
	    "GNooZaBBGWEc5",
	    "{BLF-CRYPT}$2y$17$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	    "{BLF-CRYPT}$2y$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	    "{ARGON2ID}$argon2id$v=19$m=1048577,t=3,p=1$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOY"
	    "w7mXZuy+tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=65,p=1$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7"
	    "mXZuy+tcp58ykFY1u4",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=17$6mysinrgd8JVgQTa9xFcWA$x0XFP9Y/HTJ/"
	    "tTknUIi5MOYw7"
	    "mXZuy+tcp58ykFY1u4",
	    "{ARGON2I}$argon2i$v=19$m=4294967295,t=4294967295,p=1$CB/1uBKqOoHtDNJa/5w0sQ$k2dZNn7/"
	    "dOwhfz"
	    "mDAHUKhjQRyKsGH9S01YVenNWIDSo",
	    /* cost 12 would be 2 GiB: not one of libxcrypt's levels */
	    "{CRYPT}$y$jGT$pu5LeowTZGXX5fMu5ADh81$aKZ0EgUl9UZY/tK5hLB9ufeq02LckesPMD9U8Olrax7",
	};
	const char *error;
	(void)state;
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		error = NULL;
		if (password_verify("test", over[i], &error) != -1)
			print_error("over %zu %s\n", i, over[i]);
		assert_int_equal(password_verify("test", over[i], &error), -1);
		assert_non_null(error);
	}
	assert_int_equal(password_default_limits.sha_crypt_rounds_max, 5000000);
	assert_int_equal(password_default_limits.bcrypt_cost_max, 16);
	assert_int_equal(password_default_limits.argon2_m_kib_max, 1048576);

	/* Tighter limits refuse what the defaults accept. */
	struct password_limits tight = password_default_limits;
	tight.sha_crypt_rounds_max = 5000;
	tight.bcrypt_cost_max = 4;
	tight.argon2_m_kib_max = 32768;
	tight.yescrypt_cost_max = 1;
	const char *rounds6000 = doveadm_vectors[21].stored;
	assert_int_equal(
	    password_verify_limits("test", rounds6000, &password_default_limits, &error), 1);
	assert_int_equal(password_verify_limits("test", rounds6000, &tight, &error), -1);
	assert_int_equal(password_verify_limits("test", doveadm_vectors[0].stored, &tight, &error),
	                 1);
	assert_int_equal(password_verify_limits("test", doveadm_vectors[2].stored, &tight, &error),
	                 -1);
	assert_int_equal(password_verify_limits("test", doveadm_vectors[7].stored, &tight, &error),
	                 1);
	assert_int_equal(password_verify_limits("test", doveadm_vectors[6].stored, &tight, &error),
	                 -1);
	assert_int_equal(password_verify_limits("test", spec_vectors[18].stored, &tight, &error),
	                 1);
	assert_int_equal(password_verify_limits("test", spec_vectors[17].stored, &tight, &error),
	                 -1);
}

static void test_overlong(void **state)
{
	const char *error = NULL;
	(void)state;
	char *plain = malloc(PASSWORD_MAX_LEN + 2);
	char *stored = malloc(PASSWORD_MAX_LEN + 16);
	assert_non_null(plain);
	assert_non_null(stored);
	memset(plain, 'a', PASSWORD_MAX_LEN);
	plain[PASSWORD_MAX_LEN] = '\0';
	snprintf(stored, PASSWORD_MAX_LEN + 16, "{PLAIN}%s", plain);
	assert_int_equal(password_verify(plain, stored, &error), 1);
	/* libxcrypt hashes 511 bytes at most; bcrypt reads only 72 anyway. */
	error = NULL;
	assert_null(password_hash(plain, "SHA512-CRYPT", &error));
	assert_non_null(error);
	char *h = password_hash(plain, "BLF-CRYPT", &error);
	assert_non_null(h);
	assert_int_equal(password_verify(plain, h, &error), 1);
	plain[100] = 'b'; /* beyond bcrypt's 72 bytes */
	assert_int_equal(password_verify(plain, h, &error), 1);
	plain[71] = 'b';
	assert_int_equal(password_verify(plain, h, &error), 0);
	plain[71] = plain[100] = 'a';
	free(h);
	plain[511] = '\0';
	h = password_hash(plain, "SHA512-CRYPT", &error);
	assert_non_null(h);
	assert_int_equal(password_verify(plain, h, &error), 1);
	plain[511] = 'a';
	assert_int_equal(password_verify(plain, h, &error), 0);
	plain[510] = '\0';
	assert_int_equal(password_verify(plain, h, &error), 0);
	plain[510] = 'a';
	free(h);
	h = password_hash(plain, "SSHA512", &error);
	assert_non_null(h);
	assert_int_equal(password_verify(plain, h, &error), 1);
	free(h);
	h = password_hash(plain, "ARGON2ID", &error);
	assert_non_null(h);
	assert_int_equal(password_verify(plain, h, &error), 1);

	/* One byte more: never a match, never created. */
	plain[PASSWORD_MAX_LEN] = 'a';
	plain[PASSWORD_MAX_LEN + 1] = '\0';
	snprintf(stored, PASSWORD_MAX_LEN + 16, "{PLAIN}%s", plain);
	assert_int_equal(password_verify(plain, stored, &error), 0);
	assert_int_equal(password_verify(plain, h, &error), 0);
	error = NULL;
	assert_null(password_hash(plain, "SHA512-CRYPT", &error));
	assert_non_null(error);
	free(h);

	/* A huge stored string is just malformed or a mismatch. */
	char *big = malloc(1 << 20);
	assert_non_null(big);
	memcpy(big, "{SSHA512}", 9);
	memset(big + 9, 'A', (1 << 20) - 10);
	big[(1 << 20) - 1] = '\0';
	assert_true(password_verify("test", big, &error) <= 0);
	memcpy(big, "{SHA512-CRYPT}$6$", 17);
	assert_int_equal(password_verify("test", big, &error), -1);
	memset(big, '{', (1 << 20) - 1);
	assert_int_equal(password_verify("test", big, &error), -1);
	free(big);
	free(plain);
	free(stored);
}

struct thread_arg {
	const struct vector *v;
	int fails;
};

static void *verify_thread(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < 20; i++) {
		const char *error = NULL;
		if (password_verify(a->v->plain, a->v->stored, &error) != 1)
			a->fails++;
		if (password_verify("wrong", a->v->stored, &error) != 0)
			a->fails++;
	}
	return NULL;
}

/* Several threads at once, as the lookup process's pool does. */
static void test_threads(void **state)
{
	static const size_t idx[] = {0, 1, 2, 4, 5, 9, 23, 24};
	pthread_t th[8];
	struct thread_arg args[8];
	(void)state;
	for (size_t i = 0; i < 8; i++) {
		args[i].v = &doveadm_vectors[idx[i]];
		args[i].fails = 0;
		assert_int_equal(pthread_create(&th[i], NULL, verify_thread, &args[i]), 0);
	}
	for (size_t i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].fails, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_doveadm_vectors),  cmocka_unit_test(test_spec_vectors),
	    cmocka_unit_test(test_roundtrip),        cmocka_unit_test(test_created_shape),
	    cmocka_unit_test(test_rounds),           cmocka_unit_test(test_not_creatable),
	    cmocka_unit_test(test_case_insensitive), cmocka_unit_test(test_no_prefix),
	    cmocka_unit_test(test_malformed),        cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_overlong),         cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
