/* status.h: `allears-admin status`: every allears unit's state (through
 * systemctl) and the size of each role's state directory. */
#ifndef ALLEARS_ADMIN_STATUS_H
#define ALLEARS_ADMIN_STATUS_H

/* Where systemd keeps the state of DynamicUser= units. */
#define STATUS_STATE_ROOT "/var/lib/private/allears"
#define STATUS_EXIT_NOT_RUNNING 3 /* as systemctl is-active */

/* Environment overrides, for tests: ALLEARS_SYSTEMCTL (the systemctl program)
 * and ALLEARS_STATE_ROOT. Returns 0 when every service is active,
 * STATUS_EXIT_NOT_RUNNING when one is not, 1 when systemctl fails, 2 for a
 * usage error. */
int admin_status_main(int argc, char **argv);

#endif
