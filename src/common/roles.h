/* roles.h: the server roles and which of them may open a channel to which.
 * Role numbers appear on the wire (channel frames) and in key derivation
 * (channel pair keys); see docs/PROTOCOL.md sections 3 and 7. Never renumber. */
#ifndef ALLEARS_ROLES_H
#define ALLEARS_ROLES_H

#include <stdbool.h>

enum role {
	ROLE_NONE = 0,
	ROLE_ACCOUNT = 1,
	ROLE_STORAGE = 2,
	ROLE_DELIVER = 3,
	ROLE_ENQUIRY = 4,
	ROLE_MTA = 5,
	ROLE_API = 6,
	ROLE_WEB = 7,
	ROLE_OUTGOING = 8, /* reserved for the outgoing-mail role */
	ROLE_MAX = 8,
};

/* The channels that exist (client -> server). Every other pair is refused. */
static inline bool role_channel_allowed(enum role client, enum role server)
{
	switch (server) {
	case ROLE_ACCOUNT:
		return client == ROLE_MTA || client == ROLE_API || client == ROLE_STORAGE;
	case ROLE_STORAGE:
		return client == ROLE_DELIVER || client == ROLE_API || client == ROLE_ACCOUNT;
	case ROLE_DELIVER:
		return client == ROLE_MTA;
	case ROLE_ENQUIRY:
		return client == ROLE_DELIVER || client == ROLE_API || client == ROLE_OUTGOING;
	case ROLE_OUTGOING:
		return client == ROLE_API;
	default:
		return false;
	}
}

static inline const char *role_name(enum role r)
{
	static const char *const names[] = { "none", "account", "storage", "deliver", "enquiry",
		                                 "mta", "api", "web", "outgoing" };
	return (unsigned)r <= ROLE_MAX ? names[r] : "invalid";
}

#endif
