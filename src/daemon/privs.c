/*
 * privs.c - dropping root privileges in the children (see daemon.h).
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static __thread char errbuf[256];

int privs_lookup(const char *user, const char *group, uid_t *uid_r, gid_t *gid_r,
		 const char **error_r)
{
	if (geteuid() != 0) {
		*uid_r = geteuid();
		*gid_r = getegid();
		return 0;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(errbuf, sizeof(errbuf), "user '%s' does not exist", user);
		*error_r = errbuf;
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	if (group != NULL && group[0] != '\0') {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			snprintf(errbuf, sizeof(errbuf), "group '%s' does not exist", group);
			*error_r = errbuf;
			return -1;
		}
		*gid_r = gr->gr_gid;
	}
	return 0;
}

int privs_drop(const char *user, const char *group, const char **error_r)
{
	if (geteuid() != 0)
		return 0;
	uid_t uid;
	gid_t gid;
	if (privs_lookup(user, group, &uid, &gid, error_r) < 0)
		return -1;
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		snprintf(errbuf, sizeof(errbuf), "cannot become %s: %s", user, strerror(errno));
		*error_r = errbuf;
		return -1;
	}
	if (uid != 0 && setuid(0) == 0) {
		*error_r = "privileges could be regained after dropping them";
		return -1;
	}
	return 0;
}
