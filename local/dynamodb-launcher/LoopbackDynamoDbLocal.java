import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local, started as its own main class starts it, but listening on 127.0.0.1 only.
 *
 * <p>DynamoDB Local has no host option: its DynamoDBProxyServer builds a Jetty {@code new
 * Server(port)}, whose connector binds every interface ({@code :::port}), and it has no
 * authentication. This main builds the same server from the same arguments, sets the connector's
 * host before it starts, and checks after the start that every listening socket is a loopback
 * one. Whatever it cannot confine (a DynamoDB Local whose internals changed), it refuses to run:
 * exit code 3 and one line on stderr, never a server on every interface.
 *
 * <p>Rebuild the committed class after editing: {@code npm run build:dynamodb-launcher}.
 */
public final class LoopbackDynamoDbLocal {
    private static final String HOST = "127.0.0.1";
    private static final int CANNOT_CONFINE = 3;

    private LoopbackDynamoDbLocal() {}

    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Connector[] connectors = jettyServer(proxy).getConnectors();
        if (connectors.length == 0) refuse("its Jetty server has no connector");
        for (Connector connector : connectors) {
            if (!(connector instanceof ServerConnector)) {
                refuse("unexpected connector " + connector.getClass().getName());
            }
            ((ServerConnector) connector).setHost(HOST);
        }
        try {
            proxy.start();
        } catch (Exception e) {
            // Jetty's "Failed to bind" is not the SocketException DynamoDBProxyServer itself catches.
            Throwable cause = e.getCause() == null ? e : e.getCause();
            System.err.println("DynamoDB Local could not start: " + e.getMessage() + " (" + cause + ")");
            System.exit(1);
        }
        for (Connector connector : connectors) {
            Object transport = ((ServerConnector) connector).getTransport();
            if (!(transport instanceof ServerSocketChannel) || !((ServerSocketChannel) transport).isOpen()) {
                System.err.println("DynamoDB Local is not listening");
                System.exit(1);
            }
            SocketAddress bound = ((ServerSocketChannel) transport).getLocalAddress();
            if (!(bound instanceof InetSocketAddress) || !((InetSocketAddress) bound).getAddress().isLoopbackAddress()) {
                refuse("it listens on " + bound);
            }
        }
    }

    /** DynamoDBProxyServer keeps its Jetty server in a private field: found by its type, not its name. */
    private static Server jettyServer(DynamoDBProxyServer proxy) throws IllegalAccessException {
        for (Field field : DynamoDBProxyServer.class.getDeclaredFields()) {
            if (Server.class.isAssignableFrom(field.getType())) {
                field.setAccessible(true);
                return (Server) field.get(proxy);
            }
        }
        refuse("DynamoDBProxyServer holds no Jetty server");
        return null;
    }

    private static void refuse(String why) {
        System.err.println("cannot confine DynamoDB Local to " + HOST + ": " + why);
        System.exit(CANNOT_CONFINE);
    }
}
