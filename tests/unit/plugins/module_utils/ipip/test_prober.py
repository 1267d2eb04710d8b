"""The probe process's decisions (plugins/module_utils/ipip/prober.py, ``Prober``), driven by hand."""


from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip import packet, prober

ORDER = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]


def packet_from(prober_or_src, dst, order=ORDER, heard=(), kind=packet.KIND_PROBE):
    src = prober_or_src
    column = packet.to_bitmap(order, set(heard) | {src})
    return packet.parse_packet(packet.build_packet(src, dst, "r1", 1, kind, column, packet.order_checksum(order)))


def test_prober_sends_to_everyone_once_then_backs_off_for_the_unheard():
    me = prober.Prober(ORDER, ORDER[0])
    assert me.burst() == ORDER[1:]  # everyone at the start
    me.on_packet(packet_from(ORDER[1], ORDER[0], heard=[ORDER[0]]))
    assert me.burst() == ORDER[1:]  # our column grew and the collector is not known yet: everyone
    for _unused in range(prober.EAGER_BURSTS - 1):
        assert me.burst() == [ORDER[2]]  # .12 heard us and we heard it; .13 still unheard
    quiet = [me.burst() for _unused in range(prober.EAGER_BURSTS + 1, prober.RESEND_EVERY - 1)]
    assert quiet == [[]] * len(quiet)  # then only every RESEND_EVERY bursts
    assert me.burst() == [ORDER[2]]
    assert not me.done()


def test_prober_answers_a_peer_that_has_not_heard_it():
    me = prober.Prober(ORDER, ORDER[1])
    me.burst()
    me.on_packet(packet_from(ORDER[2], ORDER[1]))  # .13 started late: its column lacks .12
    assert ORDER[2] in me.burst()
    me.on_packet(packet_from(ORDER[2], ORDER[1], heard=[ORDER[1]]))  # now it has heard us: no answer
    assert ORDER[2] not in me.burst()


def test_a_grown_column_goes_to_the_collector_only_once_it_is_known():
    me = prober.Prober(ORDER, ORDER[2])
    me.burst()
    # Before the collector is known, a grown column goes to everyone.
    me.on_packet(packet_from(ORDER[1], ORDER[2], heard=[ORDER[2]]))
    assert me.burst() == ORDER[:2]
    collector = packet.parse_packet(packet.build_packet(ORDER[0], ORDER[2], "r1", 1, packet.KIND_COLLECTOR,
                                                    packet.to_bitmap(ORDER, set(ORDER)), packet.order_checksum(ORDER)))
    me.on_packet(collector)
    assert me.collector_address == ORDER[0]
    # Hearing the collector grew our column: it goes to the collector, nobody else.
    assert me.burst() == [ORDER[0]]
    assert me.done()


def test_collector_waits_for_every_full_column():
    col = prober.Prober(ORDER, ORDER[0], collector=True)
    col.on_packet(packet_from(ORDER[1], ORDER[0], heard=[ORDER[0]]))
    col.on_packet(packet_from(ORDER[2], ORDER[0], heard=[ORDER[0]]))
    col.burst()
    assert not col.done() and col.full_columns() == []
    col.on_packet(packet_from(ORDER[1], ORDER[0], heard=ORDER))
    col.on_packet(packet_from(ORDER[2], ORDER[0], heard=ORDER))
    col.burst()
    assert col.done() and col.full_columns() == ORDER[1:]
    status = col.status()
    assert status["heard"] == {ORDER[1]: 2, ORDER[2]: 2} and status["done"] is True


def test_columns_over_another_peer_list_are_ignored_and_stop_ends():
    me = prober.Prober(ORDER, ORDER[0])
    me.on_packet(packet_from(ORDER[1], ORDER[0], order=ORDER[:2], heard=ORDER[:2]))
    assert ORDER[1] in me.heard and me.columns == {}
    me.on_packet(packet_from(ORDER[1], ORDER[0], kind=packet.KIND_STOP))
    assert me.done() and me.status()["stopped"] is True
