/* SPDX-License-Identifier: MIT */
#ifndef VL_IPNET_H
#define VL_IPNET_H

/*
 * IPv4 addresses and CIDRs as Go's net.ParseIP / net.ParseCIDR read them
 * (nebula-cert flags, config.yml values): dotted quads without leading
 * zeros, a decimal prefix length. Values are in host byte order.
 */

#include <stddef.h>
#include <stdint.h>

struct sockaddr_in6;

/* 0; -EAFNOSUPPORT for a valid IPv6 address; -EINVAL otherwise. */
int vl_ip4_parse(const char *s, uint32_t *ip);

/*
 * "10.1.2.3/16": *ip = 10.1.2.3 (as written), *mask = 255.255.0.0. The
 * network address is *ip & *mask. 0, -EAFNOSUPPORT (IPv6) or -EINVAL.
 */
int vl_cidr4_parse(const char *s, uint32_t *ip, uint32_t *mask);

/* "10.1.0.2" into @buf (at least 16 bytes); returns @buf. */
const char *vl_ip4_format(uint32_t ip, char *buf, size_t len);

/*
 * "172.31.0.2:4242" for a v4-mapped address, "[2001:db8::1]:4242"
 * otherwise; NULL when @a is not AF_INET6 (no address). Returns @buf.
 */
const char *vl_addr_format(const struct sockaddr_in6 *a, char *buf,
			   size_t len);

#endif /* VL_IPNET_H */
