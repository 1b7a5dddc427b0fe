/*
 * tls.c - server TLS context with the guide's settings (see net.h).
 *
 * The guide asks for TLS 1.2+ (smtpd_tls_protocols = !SSLv2, !SSLv3,
 * !TLSv1, !TLSv1.1) and a medium cipher grade; we use Mozilla's
 * "intermediate" list for TLS 1.2 and OpenSSL's TLS 1.3 defaults.
 */
#include "net/net.h"
#include "core/xalloc.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#define MOZILLA_INTERMEDIATE                                                                       \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

static __thread char errbuf[512];

static const char *ssl_error(const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "unknown error";
	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(errbuf, sizeof(errbuf), "%s %s: %s", what, path, reason);
	return errbuf;
}

/* The certificates chosen by SNI hang off the default context. */
struct sni_entry {
	char *name; /* lower-case; "*.example.com" matches one more label */
	SSL_CTX *ctx;
};
struct sni_set {
	struct sni_entry *v;
	unsigned n;
};

static int sni_index = -1;

static void sni_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct sni_set *set = ptr;
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (set == NULL)
		return;
	for (unsigned i = 0; i < set->n; i++) {
		free(set->v[i].name);
		SSL_CTX_free(set->v[i].ctx);
	}
	free(set->v);
	free(set);
}

static bool sni_match(const char *pattern, const char *name)
{
	if (strcasecmp(pattern, name) == 0)
		return true;
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(name, '.');
		return dot != NULL && dot != name && strcasecmp(pattern + 1, dot) == 0;
	}
	return false;
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
	struct sni_set *set = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	(void)alert;
	if (name == NULL || set == NULL)
		return SSL_TLSEXT_ERR_OK;
	for (unsigned i = 0; i < set->n; i++) {
		if (sni_match(set->v[i].name, name)) {
			SSL_set_SSL_CTX(ssl, set->v[i].ctx);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK; /* unknown names get the default certificate */
}

static SSL_CTX *ctx_one(const char *cert, const char *key, const char **error_r);

SSL_CTX *tls_server_ctx(const struct config_tls *cfg, const char **error_r)
{
	SSL_CTX *ctx = ctx_one(cfg->cert, cfg->key, error_r);
	if (ctx == NULL || cfg->sni.n == 0)
		return ctx;
	if (sni_index < 0)
		sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sni_free);
	struct sni_set *set = xcalloc(1, sizeof(*set));
	set->v = xcalloc(cfg->sni.n, sizeof(*set->v));
	SSL_CTX_set_ex_data(ctx, sni_index, set);
	for (unsigned i = 0; i < cfg->sni.n; i++) {
		char *item = xstrdup(cfg->sni.v[i]);
		char *c1 = strchr(item, ':');
		char *c2 = strchr(c1 + 1, ':');
		*c1 = *c2 = '\0';
		SSL_CTX *sub = ctx_one(c1 + 1, c2 + 1, error_r);
		if (sub == NULL) {
			free(item);
			SSL_CTX_free(ctx);
			return NULL;
		}
		set->v[set->n].name = xstrdup(item);
		set->v[set->n].ctx = sub;
		set->n++;
		free(item);
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
	SSL_CTX_set_tlsext_servername_arg(ctx, set);
	return ctx;
}

static SSL_CTX *ctx_one(const char *cert, const char *key, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = ssl_error("SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, MOZILLA_INTERMEDIATE) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
		*error_r = ssl_error("cipher setup", "");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*error_r = ssl_error("[tls] cert", cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*error_r = ssl_error("[tls] key", key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = ssl_error("[tls] key does not match cert", key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int tls_make_selfsigned(const char *cert_path, const char *key_path, const char *cn,
			const char **error_r)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f = NULL;
	int ret = -1;
	if (pkey == NULL || x == NULL) {
		*error_r = ssl_error("key generation", "");
		goto out;
	}
	X509_set_version(x, 2);
	unsigned char serial[8];
	FILE *ur = fopen("/dev/urandom", "r");
	if (ur == NULL || fread(serial, 1, sizeof(serial), ur) != sizeof(serial)) {
		if (ur)
			fclose(ur);
		*error_r = "cannot read /dev/urandom";
		goto out;
	}
	fclose(ur);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				   0);
	X509_set_issuer_name(x, name);
	char san[300];
	snprintf(san, sizeof(san), "DNS:%s", cn);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext != NULL) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, pkey, EVP_sha256()) == 0) {
		*error_r = ssl_error("signing", cert_path);
		goto out;
	}
	int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL ||
	    PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		if (fd >= 0 && f == NULL)
			close(fd);
		*error_r = ssl_error("writing", key_path);
		goto out;
	}
	fclose(f);
	f = fopen(cert_path, "w");
	if (f == NULL || PEM_write_X509(f, x) != 1) {
		*error_r = ssl_error("writing", cert_path);
		goto out;
	}
	ret = 0;
out:
	if (f != NULL)
		fclose(f);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}
