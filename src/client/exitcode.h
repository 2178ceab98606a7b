/* exitcode.h: the exit statuses of the allears client (documented in
 * allears(1)). */
#ifndef ALLEARS_CLIENT_EXITCODE_H
#define ALLEARS_CLIENT_EXITCODE_H

#define CLIENT_EXIT_OK 0
#define CLIENT_EXIT_ERROR 1 /* any other failure (refused by the server, local files, ...) */
#define CLIENT_EXIT_USAGE 2 /* bad command line */
#define CLIENT_EXIT_NET 3   /* server down, busy or failing; network; TLS */
#define CLIENT_EXIT_AUTH 4  /* wrong key, unknown user, replay, clock skew */

#endif
