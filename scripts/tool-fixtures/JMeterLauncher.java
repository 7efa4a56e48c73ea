// Runs Debian's JMeter 2.13 in non-GUI mode despite Debian's newer XStream.
//
// Debian bookworm ships jmeter 2.13-5 with libxstream-java 1.4.20, whose security
// framework allows no type by default; JMeter 2.13 predates it, so every test plan
// fails to load ("ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper").
// This launcher puts every JMeter jar on one class path, allows all types on
// JMeter's two XStream instances (what JMeter >= 3.3 does itself) and then starts
// JMeter as usual, so the JTL is written by JMeter's own code.
//
// Used by scripts/tool-fixtures.sh only; not part of BenchBoard.
import java.lang.reflect.Field;

public class JMeterLauncher {
    public static void main(String[] args) throws Exception {
        // SaveService reads bin/saveservice.properties when it is first loaded.
        String home = System.getProperty("jmeter.home", "/usr/share/jmeter");
        org.apache.jmeter.util.JMeterUtils.setJMeterHome(home);
        org.apache.jmeter.util.JMeterUtils.loadJMeterProperties(home + "/bin/jmeter.properties");
        Class<?> saveService = Class.forName("org.apache.jmeter.save.SaveService");
        for (String name : new String[] {"JMXSAVER", "JTLSAVER"}) {
            Field field = saveService.getDeclaredField(name);
            field.setAccessible(true);
            com.thoughtworks.xstream.XStream xstream = (com.thoughtworks.xstream.XStream) field.get(null);
            xstream.addPermission(com.thoughtworks.xstream.security.AnyTypePermission.ANY);
        }
        new org.apache.jmeter.JMeter().start(args);
    }
}
