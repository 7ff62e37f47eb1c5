"""The procurement service: the supplier catalog and the open demand, order cycles that bundle
requests into joint orders at the best all-units tier, and the suppliers' answers (confirmed, or
rejected and re-sourced at once). Publishes signed `joint_order.placed` to each supplier's topic
and asks notifications to tell each member about its own request."""
