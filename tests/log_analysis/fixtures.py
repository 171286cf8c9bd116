"""Realistic log samples for the log analysis tests (one per language/format)."""

PYTHON_CHAINED = """\
2026-11-25 09:00:00,101 INFO app.main: starting worker
2026-11-25 09:00:01,250 ERROR app.orders: Unhandled exception while creating order
Traceback (most recent call last):
  File "/app/orders/service.py", line 41, in load_customer
    return CUSTOMERS[customer_id]
           ~~~~~~~~~^^^^^^^^^^^^^
KeyError: 'c-1042'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/orders/api.py", line 88, in create_order
    customer = service.load_customer(payload.customer_id)
  File "/app/orders/service.py", line 43, in load_customer
    raise CustomerNotFound(customer_id) from None
app.orders.errors.CustomerNotFound: customer c-1042 not found
2026-11-25 09:00:02,000 INFO app.main: request finished
"""

PYTHON_PYDANTIC = """\
Traceback (most recent call last):
  File "/app/main.py", line 5, in <module>
    settings = Settings()
  File "/usr/local/lib/python3.12/site-packages/pydantic_settings/main.py", line 171, in __init__
    super().__init__(
pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings
database_url
  Field required [type=missing, input_value={}, input_type=dict]
    For further information visit https://errors.pydantic.dev/2.9/v/missing
INFO:     Shutting down
"""

PYTHON_GROUP = """\
  + Exception Group Traceback (most recent call last):
  |   File "/app/tasks.py", line 12, in main
  |     async with asyncio.TaskGroup() as group:
  | ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File "/app/tasks.py", line 6, in fetch
    |     raise ConnectionError("db down")
    | ConnectionError: db down
    +---------------- 2 ----------------
    | ValueError: bad row
    +------------------------------------
next line
"""

NODE_UNCAUGHT = """\
Server listening on :3000
/app/src/server.js:42
    throw new Error('Cannot read config: ' + path);
    ^

Error: Cannot read config: /etc/app/config.json
    at loadConfig (/app/src/server.js:42:11)
    at Object.<anonymous> (/app/src/server.js:57:1)
    at Module._compile (node:internal/modules/cjs/loader:1364:14)
    at node:internal/main/run_main_module:28:49

Node.js v20.11.1
"""

NODE_ECONNREFUSED = """\
{"level":30,"time":1795597200000,"msg":"connecting to postgres"}
Error: connect ECONNREFUSED 10.0.3.7:5432
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {
  errno: -111,
  code: 'ECONNREFUSED',
  syscall: 'connect',
  address: '10.0.3.7',
  port: 5432
}
{"level":30,"time":1795597201000,"msg":"retrying in 5s"}
"""

NODE_REJECTION = """\
node:internal/process/promises:289
            triggerUncaughtException(err, true /* fromPromise */);
            ^

[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason "timeout".] {
  code: 'ERR_UNHANDLED_REJECTION'
}

Node.js v18.19.0
"""

GO_PANIC = """\
2026/11/25 09:00:00 starting consumer
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6f1c2a]

goroutine 42 [running]:
github.com/shop/worker/internal/queue.(*Consumer).handle(0xc0001a2000, {0x8a1f20, 0xc000124000})
\t/src/internal/queue/consumer.go:118 +0x2a
github.com/shop/worker/internal/queue.(*Consumer).Run(0xc0001a2000)
\t/src/internal/queue/consumer.go:74 +0x1d5
created by main.main in goroutine 1
\t/src/cmd/worker/main.go:51 +0x3a8

goroutine 1 [chan receive]:
main.main()
\t/src/cmd/worker/main.go:60 +0x3f0
exit status 2
"""

GO_DEADLOCK = """\
fatal error: all goroutines are asleep - deadlock!

goroutine 1 [chan receive]:
main.main()
\t/app/main.go:9 +0x2d
exit status 2
"""

JAVA_CAUSED_BY = """\
2026-11-25 09:00:00.123  INFO 1 --- [main] o.s.b.w.embedded.tomcat.TomcatWebServer : Tomcat started
2026-11-25 09:00:05.456 ERROR 1 --- [nio-8080-exec-1] o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() failed
org.springframework.dao.DataAccessResourceFailureException: Unable to acquire JDBC Connection
\tat org.springframework.orm.jpa.vendor.HibernateJpaDialect.convertHibernateAccessException(HibernateJpaDialect.java:277)
\tat com.shop.orders.OrderService.create(OrderService.java:57)
\tat java.base/java.lang.Thread.run(Thread.java:1583)
Caused by: org.hibernate.exception.JDBCConnectionException: Unable to acquire JDBC Connection
\tat org.hibernate.exception.internal.SQLStateConversionDelegate.convert(SQLStateConversionDelegate.java:100)
\t... 12 more
Caused by: org.postgresql.util.PSQLException: Connection to db:5432 refused. Check that the hostname and port are correct.
\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:342)
\tat org.postgresql.Driver.connect(Driver.java:297)
\t... 25 common frames omitted
2026-11-25 09:00:06.000  INFO 1 --- [main] c.s.orders.Health : still alive
"""

JAVA_THREAD = """\
Exception in thread "main" java.lang.IllegalStateException: config missing
\tat com.shop.App.main(App.java:12)
"""

RUBY_CLASSIC = """\
/app/lib/billing.rb:12:in `charge': undefined method `amount' for nil:NilClass (NoMethodError)
\tfrom /app/lib/billing.rb:5:in `run'
\tfrom bin/worker:3:in `<main>'
I, [2026-11-25T09:00:01.000000 #1]  INFO -- : restarting
"""

RUBY_34 = """\
app.rb:3:in 'Integer#/': divided by 0 (ZeroDivisionError)
\tfrom app.rb:3:in 'Object#compute'
\tfrom app.rb:7:in '<main>'
"""

RAILS = """\
Started GET "/orders/7" for 172.18.0.1 at 2026-11-25 09:00:00 +0000
NoMethodError (undefined method `total' for nil):

  app/controllers/orders_controller.rb:5:in `show'
  app/middleware/auth.rb:20:in `call'
Completed 500 Internal Server Error in 3ms
"""

POSTGRES = """\
2026-11-25 09:00:00.100 UTC [1] LOG:  database system is ready to accept connections
2026-11-25 09:00:03.200 UTC [57] ERROR:  duplicate key value violates unique constraint "users_email_key"
2026-11-25 09:00:03.200 UTC [57] DETAIL:  Key (email)=(a@b.c) already exists.
2026-11-25 09:00:03.200 UTC [57] STATEMENT:  INSERT INTO users (email) VALUES ($1)
2026-11-25 09:00:04.000 UTC [58] FATAL:  password authentication failed for user "shop"
2026-11-25 09:00:04.000 UTC [58] DETAIL:  Connection matched file "/var/lib/postgresql/data/pg_hba.conf" line 128: "host all all all scram-sha-256"
2026-11-25 09:00:05.000 UTC [59] ERROR:  relation "orders" does not exist at character 15
2026-11-25 09:00:05.000 UTC [59] HINT:  Perhaps you meant to reference the table "order".
2026-11-25 09:00:05.000 UTC [59] STATEMENT:  SELECT * FROM orders
\t  WHERE id = 1
2026-11-25 09:00:06.000 UTC [1] LOG:  checkpoint starting: time
"""

MYSQL = """\
2026-11-25T09:00:00.000000Z 0 [System] [MY-010116] [Server] /usr/sbin/mysqld (mysqld 8.4.0) starting as process 1
2026-11-25T09:00:01.000000Z 0 [Warning] [MY-010068] [Server] CA certificate ca.pem is self signed.
2026-11-25T09:00:02.000000Z 1 [ERROR] [MY-012592] [InnoDB] Operating system error number 28 in a file operation.
2026-11-25T09:00:02.000000Z 0 [ERROR] [MY-010119] [Server] Aborting
"""

REDIS = """\
1:C 25 Nov 2026 09:00:00.001 # WARNING Memory overcommit must be enabled! Without it, a background save may fail.
1:M 25 Nov 2026 09:00:00.002 * Ready to accept connections tcp
1:M 25 Nov 2026 09:00:10.000 # Background saving error
1:M 25 Nov 2026 09:00:10.001 # Failed opening the temp RDB file temp-1.rdb (in server root dir /data) for saving: Permission denied
1:M 25 Nov 2026 09:00:11.000 * 1 changes in 3600 seconds. Saving...
"""

REDIS_CLIENT = """\
2026-11-25 09:00:00,000 INFO worker: enqueue job 17
redis.exceptions.ResponseError: OOM command not allowed when used memory > 'maxmemory'.
MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.
"""

NGINX_ACCESS = """\
172.18.0.1 - - [25/Nov/2026:09:00:00 +0000] "GET /api/users/42 HTTP/1.1" 200 512 "-" "curl/8.5.0"
172.18.0.1 - - [25/Nov/2026:09:00:01 +0000] "GET /api/users/43?full=1 HTTP/1.1" 502 157 "-" "curl/8.5.0"
172.18.0.1 - - [25/Nov/2026:09:00:02 +0000] "GET /api/users/44 HTTP/1.1" 502 157 "-" "curl/8.5.0"
172.18.0.1 - - [25/Nov/2026:09:00:03 +0000] "POST /api/orders/9f1c2d3e-1111-2222-3333-444455556666/pay HTTP/1.1" 504 0 "-" "Go-http-client/1.1"
172.18.0.1 - - [25/Nov/2026:09:00:04 +0000] "GET /error-page-failed HTTP/1.1" 404 0 "-" "curl/8.5.0"
"""

TRAEFIK_ACCESS = """\
192.168.1.10 - - [25/Nov/2026:09:00:00 +0000] "GET /app HTTP/2.0" 503 19 "-" "Mozilla/5.0" 1 "shop-web@docker" "http://172.18.0.5:3000" 2ms
{"ClientHost":"192.168.1.10","DownstreamStatus":502,"RequestMethod":"GET","RequestPath":"/api/items/17","time":"2026-11-25T09:00:01Z"}
"""

NGINX_ERROR = """\
2026/11/25 09:00:01 [notice] 1#1: start worker processes
2026/11/25 09:00:02 [error] 29#29: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 172.18.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://172.18.0.3:8080/", host: "localhost"
2026/11/25 09:00:03 [warn] 29#29: *2 an upstream response is buffered to a temporary file
"""

JSON_LOGS = """\
{"level":"info","ts":"2026-11-25T09:00:00Z","msg":"server started","port":8080}
{"level":"error","ts":"2026-11-25T09:00:01Z","msg":"query failed","error":"dial tcp 10.0.3.7:5432: connect: connection refused"}
{"level":50,"time":1795597202000,"msg":"request failed","err":{"type":"TypeError","message":"x is undefined","stack":"TypeError: x is undefined\\n    at handler (/app/h.js:3:9)\\n    at run (/app/r.js:1:1)"}}
{"severity":"WARNING","message":"slow request","latency_ms":2300}
"""

LOGFMT = """\
time="2026-11-25T09:00:00Z" level=info msg="Configuration loaded"
time="2026-11-25T09:00:01Z" level=error msg="Error while starting server" error="listen tcp :80: bind: address already in use"
"""
