/*
 * password - Dovecot password scheme strings: verify and create.
 *
 * Owns: "{SCHEME}data" strings as Dovecot writes them (doveadm pw) and the
 * guide stores them in accounts.password. A string without a {SCHEME}
 * prefix is SHA512-CRYPT (the guide's default_pass_scheme).
 * Thread-safe (crypt_rn with its work area on the heap, no static state);
 * the lookup process calls it from its thread pool because hashing is
 * slow on purpose. Comparison of hashes is constant-time.
 *
 * Schemes (names in any case, optionally with Dovecot's ".HEX", ".B64" or
 * ".BASE64" encoding suffix): SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT,
 * CRYPT, ARGON2ID, ARGON2I, SSHA512, SSHA256 (verify and create);
 * DES-CRYPT, MD5-CRYPT, SHA512, SHA256, PLAIN, CLEAR, CLEARTEXT (verify
 * only). docs/passwords.md has the formats, defaults and limits.
 *
 * Limits: a password longer than PASSWORD_MAX_LEN bytes never matches;
 * a stored string that asks for more work than struct password_limits
 * allows is refused (-1), so a bad row cannot make a login hash for
 * minutes or allocate gigabytes.
 */
#ifndef VMAILD_DIRECTORY_PASSWORD_H
#define VMAILD_DIRECTORY_PASSWORD_H

#include <stdint.h>

#define PASSWORD_DEFAULT_SCHEME "SHA512-CRYPT"
/* Longest password (bytes) that can match or be hashed. */
#define PASSWORD_MAX_LEN 4096

/* password_verify: 1 match, 0 no match, -1 unknown scheme or malformed
 * stored string (static message in *error_r). */
int password_verify(const char *plain, const char *stored, const char **error_r);

/* password_hash: a malloc'd "{SCHEME}..." string for plain with a fresh
 * random salt, or NULL with a static message for a scheme that cannot be
 * created (PLAIN is verify-only... see the .c for the list). */
char *password_hash(const char *plain, const char *scheme, const char **error_r);

/* password_scheme_known: 1 when the scheme (without braces, any case) can
 * be verified, 0 otherwise. */
int password_scheme_known(const char *scheme);

/* Work a stored string may ask for; more is refused by verification. */
struct password_limits {
	uint32_t sha_crypt_rounds_max; /* $5$ / $6$ rounds= (default 5000) */
	uint32_t bcrypt_cost_max;      /* $2?$NN$, log2 of the iterations */
	uint32_t yescrypt_cost_max;    /* $y$: libxcrypt's cost levels 1..11 */
	uint32_t argon2_m_kib_max;     /* argon2 m= (KiB) */
	uint32_t argon2_t_max;         /* argon2 t= (passes) */
	uint32_t argon2_p_max;         /* argon2 p= (lanes) */
};

/* The limits password_verify() applies: 5 000 000 SHA-crypt rounds,
 * bcrypt cost 16, yescrypt cost 11, argon2 m 1 GiB, t 64, p 16. */
extern const struct password_limits password_default_limits;

/* password_verify_limits: password_verify() with other limits (the fuzz
 * target uses tight ones). */
int password_verify_limits(const char *plain, const char *stored,
                           const struct password_limits *limits, const char **error_r);

/* password_hash_rounds: password_hash() with a work factor, like
 * `doveadm pw -r`: SHA-crypt rounds (1000..limit), bcrypt cost (4..16),
 * argon2 passes t (1..64); 0 is the scheme's default. Schemes without a
 * work factor refuse rounds != 0. */
char *password_hash_rounds(const char *plain, const char *scheme, unsigned rounds,
                           const char **error_r);

/* password_scheme_creatable: 1 when password_hash() can create the scheme
 * (any case, encoding suffix allowed), 0 otherwise. */
int password_scheme_creatable(const char *scheme);

/* password_scheme_name: the i-th scheme name of the table (canonical
 * upper case), NULL past the end; for listings (vmailctl pw -l). */
const char *password_scheme_name(unsigned i);

#endif
