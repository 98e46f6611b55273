/* SPDX-License-Identifier: MIT */
#ifndef VL_IPNET_H
#define VL_IPNET_H

/*
 * IPv4 addresses and CIDRs as Go's net.ParseIP / net.ParseCIDR read them
 * (nebula-cert flags, config.yml values): dotted quads without leading
 * zeros, a decimal prefix length. Values are in host byte order.
 */

#include <stdint.h>

/* 0; -EAFNOSUPPORT for a valid IPv6 address; -EINVAL otherwise. */
int vl_ip4_parse(const char *s, uint32_t *ip);

/*
 * "10.1.2.3/16": *ip = 10.1.2.3 (as written), *mask = 255.255.0.0. The
 * network address is *ip & *mask. 0, -EAFNOSUPPORT (IPv6) or -EINVAL.
 */
int vl_cidr4_parse(const char *s, uint32_t *ip, uint32_t *mask);

#endif /* VL_IPNET_H */
