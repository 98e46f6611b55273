/* SPDX-License-Identifier: MIT */
#ifndef XSK_STEER_OBJ_H
#define XSK_STEER_OBJ_H

/*
 * xsk_steer.bpf.o as bytes, compiled into the dataplane (bpf/embed.py
 * writes the definitions): the loader opens it with bpf_object__open_mem(),
 * so no object file has to be installed or found at run time.
 */

#include <stddef.h>

extern const unsigned char dp_xdp_steer_obj[];
extern const size_t dp_xdp_steer_obj_len;

#endif /* XSK_STEER_OBJ_H */
