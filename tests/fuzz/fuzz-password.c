/*
 * fuzz-password.c - libFuzzer target for password_verify().
 *
 * Input: the stored string, a NUL byte, the password (without a NUL the
 * password is "password"). Verification runs with tight work limits so
 * that no input can make one run hash for long or allocate much: the
 * limits themselves are part of what is tested (a stored string above
 * them must be refused before any hashing starts).
 */
#include "directory/password.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct password_limits fuzz_limits = {
    .sha_crypt_rounds_max = 5000,
    .bcrypt_cost_max = 5,
    .yescrypt_cost_max = 1,
    .argon2_m_kib_max = 256,
    .argon2_t_max = 2,
    .argon2_p_max = 2,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t stored_len = nul != NULL ? (size_t)(nul - data) : size;
	char *stored = malloc(stored_len + 1);
	memcpy(stored, data, stored_len);
	stored[stored_len] = '\0';
	char *plain;
	if (nul != NULL) {
		size_t plain_len = size - stored_len - 1;
		plain = malloc(plain_len + 1);
		memcpy(plain, nul + 1, plain_len);
		plain[plain_len] = '\0';
	} else {
		plain = strdup("password");
	}

	const char *error = NULL;
	int rc = password_verify_limits(plain, stored, &fuzz_limits, &error);
	if (rc < -1 || rc > 1 || (rc == -1 && (error == NULL || error[0] == '\0')))
		abort();
	/* A match is only possible for a stored string that parses. */
	if (rc == 1 && stored[0] == '{' && strchr(stored, '}') == NULL)
		abort();

	/* The scheme name helpers on the same bytes. */
	(void)password_scheme_known(stored);
	(void)password_scheme_creatable(stored);

	free(stored);
	free(plain);
	return 0;
}
