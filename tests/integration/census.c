/* census.c -- what a process holds: resident memory, descriptors, TCP connections by state. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sextant/testing/census.h>

static long
status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r"))) {
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			kb = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

long
sx_census_rss_kb(pid_t pid)
{
	return status_kb(pid, "VmRSS");
}

long
sx_census_hwm_kb(pid_t pid)
{
	return status_kb(pid, "VmHWM");
}

/* Socket inodes among @pid's descriptors, into a malloc'ed array; @return the count or -1. */
static int
socket_inodes(pid_t pid, unsigned long **out)
{
	char path[64], link[64];
	struct dirent *d;
	unsigned long *v = NULL;
	int n = 0, cap = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (!(dir = opendir(path))) {
		return -1;
	}
	while ((d = readdir(dir))) {
		char fdpath[320];
		ssize_t len;

		if (d->d_name[0] == '.') {
			continue;
		}
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, d->d_name);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len <= 0) {
			continue;
		}
		link[len] = '\0';
		if (out && !strncmp(link, "socket:[", 8)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				v = realloc(v, (size_t)cap * sizeof(*v));
				if (!v) {
					abort();
				}
			}
			v[n++] = strtoul(link + 8, NULL, 10);
		} else if (!out) {
			n++;
		}
	}
	closedir(dir);
	if (out) {
		*out = v;
	}
	return n;
}

int
sx_census_fds(pid_t pid)
{
	return socket_inodes(pid, NULL);
}

static bool
has(const unsigned long *v, int n, unsigned long inode)
{
	for (int i = 0; i < n; i++) {
		if (v[i] == inode) {
			return true;
		}
	}
	return false;
}

/* Count the lines of /proc/net/@table (tcp or tcp6) that match. */
static int
count_table(const char *table, const unsigned long *inodes, int n, int state, uint16_t rport)
{
	char path[64], line[512];
	int count = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/net/%s", table);
	if (!(f = fopen(path, "r"))) {
		return 0;
	}
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char local[64], remote[64];
		unsigned st, port;
		unsigned long inode;
		char *colon;

		/* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, "%*s %63s %63s %x %*s %*s %*s %*s %*s %lu", local, remote, &st,
		           &inode) != 4 ||
		    !has(inodes, n, inode)) {
			continue;
		}
		colon = strrchr(remote, ':');
		port = colon ? (unsigned)strtoul(colon + 1, NULL, 16) : 0;
		if ((state == SX_TCP_ANY || (int)st == state) && (!rport || port == rport)) {
			count++;
		}
	}
	fclose(f);
	return count;
}

int
sx_census_tcp(pid_t pid, int state, uint16_t rport)
{
	unsigned long *inodes = NULL;
	int n = socket_inodes(pid, &inodes), count;

	if (n < 0) {
		return -1;
	}
	count = count_table("tcp", inodes, n, state, rport) +
	        count_table("tcp6", inodes, n, state, rport);
	free(inodes);
	return count;
}

long
sx_census_raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		return -1;
	}
	if ((rlim_t)want > rl.rlim_max && geteuid() == 0) {
		rl.rlim_max = (rlim_t)want;
	}
	rl.rlim_cur = (rlim_t)want < rl.rlim_max ? (rlim_t)want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		return -1;
	}
	return (long)rl.rlim_cur;
}
