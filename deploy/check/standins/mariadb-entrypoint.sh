#!/bin/sh
# Stand-in entry point (make deploy-check only). Like the official image's: arguments starting
# with `-` are options of mariadbd; an empty data directory is initialised once with the
# database, user and passwords from MARIADB_* (or MARIADB_*_FILE).
set -eu
if [ "${1#-}" != "$1" ]; then set -- mariadbd "$@"; fi
# Started as root (e.g. by testcontainers): the data directory to mysql, then run as mysql.
if [ "$1" = mariadbd ] && [ "$(id -u)" = 0 ]; then
  chown -R mysql:mysql /var/lib/mysql
  exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

file_env() { # file_env VAR: VAR, else the content of the file named by VAR_FILE
  eval "v=\${$1:-}; f=\${$1_FILE:-}"
  if [ -z "$v" ] && [ -n "$f" ]; then v=$(cat "$f"); fi
  printf '%s' "$v"
}

if [ "$1" = mariadbd ] && [ ! -d /var/lib/mysql/mysql ]; then
  root_pw=$(file_env MARIADB_ROOT_PASSWORD)
  db=$(file_env MARIADB_DATABASE)
  user=$(file_env MARIADB_USER)
  pw=$(file_env MARIADB_PASSWORD)
  [ -n "$root_pw" ] || { echo "entrypoint: MARIADB_ROOT_PASSWORD or MARIADB_ROOT_PASSWORD_FILE is required" >&2; exit 1; }
  echo "entrypoint: initialising /var/lib/mysql"
  mariadb-install-db --datadir=/var/lib/mysql --auth-root-authentication-method=normal --skip-test-db >/dev/null
  sql="DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host<>'localhost');
ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';
CREATE USER 'root'@'%' IDENTIFIED BY '$root_pw'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE USER 'healthcheck'@'127.0.0.1'; CREATE USER 'healthcheck'@'::1'; CREATE USER 'healthcheck'@'localhost';"
  [ -z "$db" ] || sql="$sql
CREATE DATABASE IF NOT EXISTS \`$db\`;"
  if [ -n "$user" ] && [ -n "$pw" ]; then
    sql="$sql
CREATE USER '$user'@'%' IDENTIFIED BY '$pw';"
    [ -z "$db" ] || sql="$sql
GRANT ALL ON \`$db\`.* TO '$user'@'%';"
  fi
  # A temporary server on a private socket, as the official entry point does.
  sock=/tmp/mysqld-init.sock
  # Its log goes to the container's output, like the official image's ("ready for connections"
  # then appears twice on a first start: testcontainers' MariaDB module waits for that).
  mariadbd --datadir=/var/lib/mysql --skip-networking --socket="$sock" &
  pid=$!
  i=0
  until mariadb-admin --socket="$sock" -uroot ping >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 120 ] || { echo "entrypoint: the temporary server did not start" >&2; exit 1; }
    sleep 0.5
  done
  printf '%s\n' "$sql" | mariadb --socket="$sock" -uroot
  mariadb-admin --socket="$sock" -uroot -p"$root_pw" shutdown
  wait "$pid" || true
  echo "entrypoint: initialised"
fi
exec "$@"
