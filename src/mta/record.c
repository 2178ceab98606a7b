/* record.c: patching the delivery record's header and checking Deliver's
 * answer (see record.h; docs/PROTOCOL.md section 16). */
#include "mta/record.h"

#include <errno.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/dlvrec.h"

/* The highest status value enum chan_status defines. */
#define CHST_LAST CHST_NOT_OWNER

int mta_record_patch(int fd, uint16_t flags, uint64_t ts)
{
	uint8_t f[2], t[8];
	le16_store(f, flags);
	le64_store(t, ts);
	if (pwrite(fd, f, sizeof(f), MTA_REC_OFF_FLAGS) != (ssize_t)sizeof(f) ||
	    pwrite(fd, t, sizeof(t), MTA_REC_OFF_TS) != (ssize_t)sizeof(t))
		return errno ? -errno : -EIO;
	return 0;
}

int mta_record_answer(const uint8_t *p, size_t len, unsigned rcpt_count)
{
	if (len < 2 || len > DLV_ANSWER_MAX || p[0] > CHST_LAST)
		return -EBADMSG;
	unsigned count = p[1];
	/* Only OK and LIMIT speak for each recipient; a refusal of the whole
	 * request (invalid, denied, busy: CHST_TEMPFAIL) may come without them. */
	bool whole = p[0] != CHST_OK && p[0] != CHST_LIMIT;
	if (whole ? count != 0 && count != rcpt_count : count != rcpt_count)
		return -EBADMSG;
	if (len != 2 + (size_t)count)
		return -EBADMSG;
	for (unsigned i = 0; i < count; i++) {
		if (p[2 + i] > CHST_LAST)
			return -EBADMSG;
	}
	return p[0];
}
