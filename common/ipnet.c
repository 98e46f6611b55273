/* SPDX-License-Identifier: MIT */
#include "ipnet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

int vl_ip4_parse(const char *s, uint32_t *ip)
{
	struct in6_addr in6;
	struct in_addr in;

	/* glibc's inet_pton, like Go, refuses leading zeros ("010.0.0.1"). */
	if (inet_pton(AF_INET, s, &in) == 1) {
		*ip = ntohl(in.s_addr);
		return 0;
	}
	return inet_pton(AF_INET6, s, &in6) == 1 ? -EAFNOSUPPORT : -EINVAL;
}

int vl_cidr4_parse(const char *s, uint32_t *ip, uint32_t *mask)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	unsigned long bits = 0;
	int err;

	if (!slash || slash == s || (size_t)(slash - s) >= sizeof(addr) ||
	    !slash[1])
		return -EINVAL;
	/* Go's dtoi: decimal digits only, leading zeros allowed. */
	for (const char *p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		bits = bits * 10 + (unsigned long)(*p - '0');
		if (bits > 128)
			return -EINVAL;
	}
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	err = vl_ip4_parse(addr, ip);
	if (err == -EAFNOSUPPORT)
		return err;
	if (err || bits > 32)
		return -EINVAL;
	*mask = bits ? UINT32_MAX << (32 - bits) : 0;
	return 0;
}

const char *vl_ip4_format(uint32_t ip, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 0xff,
		 ip >> 8 & 0xff, ip & 0xff);
	return buf;
}

const char *vl_addr_format(const struct sockaddr_in6 *a, char *buf,
			   size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->sin6_family != AF_INET6)
		return NULL;
	if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
		inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], host,
			  sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a->sin6_port));
	} else {
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
	}
	return buf;
}
