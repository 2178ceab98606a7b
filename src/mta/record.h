/* record.h: the MTA's side of DLV_DELIVER (docs/PROTOCOL.md section 16): the
 * two header fields it fills in once the message has arrived, and the check
 * of Deliver's answer. The header itself is dlvrec_encode_head's. */
#ifndef ALLEARS_MTA_RECORD_H
#define ALLEARS_MTA_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Offsets of the record's flags (u16) and ts (u64), section 16.1. */
#define MTA_REC_OFF_FLAGS 2
#define MTA_REC_OFF_TS 4

/* Writes flags and ts into the header at the start of the (unsealed) memfd
 * fd. 0 or -errno. */
int mta_record_patch(int fd, uint16_t flags, uint64_t ts) WUR;

/* Checks Deliver's answer to a record of rcpt_count recipients: status u8,
 * count u8 (= rcpt_count, or 0 with CHST_INVALID), one known status per
 * recipient, nothing more. Returns the overall status, or -EBADMSG. */
int mta_record_answer(const uint8_t *p, size_t len, unsigned rcpt_count) WUR;

#endif
