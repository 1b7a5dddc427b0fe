/*
 * listen.c - listening sockets bound by the master (see net.h).
 */
#include "net/net.h"
#include "core/addr.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static __thread char errbuf[256];

int listen_tcp(const char *spec, const char **error_r)
{
	struct addr a;
	if (addr_parse(spec, &a, error_r) < 0)
		return -1;
	int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) < 0 || listen(fd, 511) < 0)
		goto fail;
	return fd;
fail:
	snprintf(errbuf, sizeof(errbuf), "%s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	*error_r = errbuf;
	return -1;
}

int listen_unix(const char *path, mode_t mode, const char **error_r)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(errbuf, sizeof(errbuf), "%s: path too long for a unix socket", path);
		*error_r = errbuf;
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (unlink(path) < 0 && errno != ENOENT)
		goto fail;
	mode_t old = umask(0777 & ~mode);
	int r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0 || chmod(path, mode) < 0 || listen(fd, 128) < 0)
		goto fail;
	return fd;
fail:
	snprintf(errbuf, sizeof(errbuf), "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	*error_r = errbuf;
	return -1;
}
