/* smtp.h: the MTA's SMTP command-line parser (RFC 5321 4.1, with RFC 6531
 * SMTPUTF8 and RFC 1870/6152 parameters). Pure functions over one line
 * without its line ending: no allocation, no state; the session decides what
 * a command means where it arrives. Replies and limits: docs/PROTOCOL.md
 * section 18. */
#ifndef ALLEARS_MTA_SMTP_H
#define ALLEARS_MTA_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1: the limits a server must accept, and ours. */
#define SMTP_LINE_MAX 512   /* a command line, CRLF included */
#define SMTP_TEXT_LINE_MAX 1000 /* a line of message text, CRLF included */
#define SMTP_LOCAL_MAX 64   /* local part, octets */
#define SMTP_DOMAIN_MAX 255 /* domain, octets */
#define SMTP_PATH_MAX 256   /* path, angle brackets included */
#define SMTP_SIZE_DIGITS_MAX 20 /* SIZE=, RFC 1870: 1*20DIGIT */

enum smtp_verb {
	SMTP_UNKNOWN = 0, /* not an SMTP verb at all: 500 */
	SMTP_HELO,
	SMTP_EHLO,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_RSET,
	SMTP_NOOP,
	SMTP_QUIT,
	SMTP_VRFY,
	SMTP_HELP,
	SMTP_STARTTLS,
	SMTP_UNSUPPORTED, /* a real verb we do not implement (EXPN, BDAT, AUTH, ...): 502 */
};

enum smtp_err {
	SMTP_OK = 0,
	SMTP_E_SYNTAX,      /* malformed command or arguments: 501 5.5.2 */
	SMTP_E_PATH,        /* malformed address (or over a length limit): 501 5.1.3 / 5.1.7 */
	SMTP_E_PARAM,       /* unknown or unsupported ESMTP parameter: 555 5.5.4 */
	SMTP_E_PARAM_VALUE, /* a known parameter with a bad value, or given twice: 501 5.5.4 */
};

enum smtp_body { SMTP_BODY_NONE = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

/* A mailbox from MAIL FROM or RCPT TO; the pointers point into the line. */
struct smtp_path {
	bool null;           /* "<>" (MAIL only) */
	bool postmaster;     /* "<Postmaster>" without a domain (RCPT only) */
	bool literal;        /* the domain is an address literal "[...]" */
	bool utf8;           /* non-ASCII in the local part or the domain */
	const uint8_t *local; /* as written (a quoted string keeps its quotes) */
	size_t local_len;
	const uint8_t *domain; /* as written; NULL for null and postmaster */
	size_t domain_len;
	const uint8_t *mailbox; /* "local@domain" as written, without source route or brackets */
	size_t mailbox_len;
};

struct smtp_params {
	bool size_given;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
};

struct smtp_cmd {
	enum smtp_verb verb;
	enum smtp_err err;
	/* Accepted although RFC 5321 does not allow it (a space after "FROM:",
	 * a HELO name that is not a domain, ...): the session flags it. */
	bool lenient;
	/* HELO/EHLO name, VRFY/HELP/NOOP argument; points into the line. */
	const uint8_t *arg;
	size_t arg_len;
	struct smtp_path path;     /* MAIL, RCPT */
	struct smtp_params params; /* MAIL */
};

/* Parses one command line (without CRLF; at most SMTP_LINE_MAX - 2 bytes, any
 * bytes). Always fills ret: the verb, and err for the arguments (SMTP_OK when
 * they are fine). Commands of SMTP_UNKNOWN/UNSUPPORTED carry no arguments. */
void smtp_parse(const uint8_t *line, size_t len, struct smtp_cmd *ret);

/* True when p[0..len) is a domain (RFC 5321 Domain; with utf8, U-labels of
 * valid UTF-8 too) of at most SMTP_DOMAIN_MAX octets. */
bool smtp_domain_valid(const uint8_t *p, size_t len, bool utf8);
/* True when p[0..len) is an address literal "[...]" (IPv4, IPv6 or general). */
bool smtp_literal_valid(const uint8_t *p, size_t len);
/* Case-insensitive ASCII equality of two byte strings. */
bool smtp_ascii_caseeq(const uint8_t *a, size_t alen, const char *b, size_t blen);

#endif
