package searcher.node;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Runs one OpenSearch node in this JVM, for tests and development.
 *
 * <p>OpenSearch's own distribution starts through its Bootstrap class, which also installs the
 * security manager, checks the class path for duplicate classes and loads plugins from the
 * modules/ and plugins/ folders of a full install. None of that exists when the server comes
 * from Maven Central as plain jars, so this launcher builds the {@link Node} directly with the
 * two plugins we need (HTTP over Netty, and the analysis-common token filters) taken from the
 * class path, the way OpenSearch's test framework does.
 *
 * <p>Usage: {@code java -cp ... searcher.node.Launcher HOME}. HOME must hold config/opensearch.yml
 * and config/log4j2.properties (written by scripts/opensearch-node); the node keeps data and logs
 * under HOME as configured there. It runs until the JVM gets SIGTERM/SIGINT.
 */
public final class Launcher {

    /** Node's constructor that takes class-path plugins is protected; this exposes it. */
    static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Launcher HOME");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        Path config = home.resolve("config");
        // PluginsService looks at these folders even when every plugin comes from the class path.
        Files.createDirectories(home.resolve("modules"));
        Files.createDirectories(home.resolve("plugins"));

        Settings input = Settings.builder().put("path.home", home.toString()).build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            input, Collections.emptyMap(), config, () -> "searcher-node");
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment);

        List<Class<? extends Plugin>> plugins = List.of(Netty4Plugin.class, CommonAnalysisPlugin.class);
        Node node = new EmbeddedNode(environment, plugins);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "searcher-node-shutdown"));
        node.start();
        // The node's threads are daemons: keep the JVM alive until it is told to stop.
        stopped.await();
    }
}
