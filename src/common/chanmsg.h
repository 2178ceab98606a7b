/* chanmsg.h: the message types each server role answers on its channel, and
 * the status codes of every answer. Layouts: docs/PROTOCOL.md sections 10-11.
 * Numbers appear on the wire: never renumber. */
#ifndef ALLEARS_CHANMSG_H
#define ALLEARS_CHANMSG_H

/* Status, the first byte of every answer. */
enum chan_status {
	CHST_OK = 0,
	CHST_NOT_FOUND = 1, /* no such user, envelope or address */
	CHST_EXISTS = 2,    /* already exists / in use */
	CHST_LIMIT = 3,     /* a level limit or quota is reached */
	CHST_INVALID = 4,   /* malformed request or message */
	CHST_TEMPFAIL = 5,  /* try again later (a peer is down, a queue is full) */
	CHST_DENIED = 6,    /* this peer may not ask this */
	CHST_INTERNAL = 7,  /* the server failed; nothing was changed */
	CHST_FORBIDDEN = 8, /* forbidden or reserved value */
	CHST_AUTH = 9,      /* API request: bad tag, unknown user */
	CHST_REPLAY = 10,   /* API request: timestamp not after the last one */
	CHST_TIME = 11,     /* API request: timestamp outside the window */
	CHST_SELF = 12,     /* internal message to one's own address */
	CHST_DECLINED = 13, /* the recipient does not accept internal mail */
	CHST_NOT_OWNER = 14, /* the sender does not own the from-address */
};

/* Storage (server role 2). */
enum sto_msg {
	STO_CREATE = 1,       /* account: create a user's storage */
	STO_REMOVE = 2,       /* account: remove a user's storage and every envelope */
	STO_USER_CHANGED = 3, /* account: a user's EPK, level or limits changed */
	STO_USAGE = 4,        /* account: bytes and envelopes a user holds */
	STO_STORE = 10,       /* deliver, api: seal a Message (memfd) and store it */
	STO_BROWSE = 11,      /* api: a page of a user's envelopes (memfd) */
	STO_DELETE = 12,      /* api: delete one envelope */
	STO_EMPTY = 13,       /* api: delete every envelope of a user */
};

/* Account (server role 1). */
enum acc_msg {
	ACC_LOOKUP = 1,    /* mta: who owns this address */
	ACC_USER_INFO = 2, /* storage: a user's EPK and storage limit */
	ACC_API = 10,      /* api: authenticate, decrypt and run an API request */
};

#endif
