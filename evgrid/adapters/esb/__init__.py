"""The ESB binding: 61968-100 messages over AMQP 0-9-1 (RabbitMQ), and its topology."""
