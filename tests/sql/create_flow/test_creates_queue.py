from tests.sql.helpers import scalar


def test_creates_the_flow_queue_once(conn):
    conn.execute("SELECT pgflow.create_flow('orders')")
    conn.execute("SELECT pgflow.create_flow('orders')")
    assert scalar(conn, "SELECT count(*) FROM pgmq.list_queues() WHERE queue_name = 'orders'") == 1
    msg_id = scalar(conn, "SELECT * FROM pgmq.send('orders', '{}'::jsonb)")
    assert msg_id is not None
